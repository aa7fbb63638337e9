/*
** cnn_default_weights.S — the default CNN model, samples/cnn-default.nmm
** (written by `make model`), compiled into the engine so that cnn_predict()
** and cnn_params() work without a model argument. The path is relative to
** the repository root, where every build runs the assembler.
*/
        .section .rodata
        .balign 16
        .globl nm_cnn_default_model
        .hidden nm_cnn_default_model
        .type nm_cnn_default_model, @object
nm_cnn_default_model:
        .incbin "samples/cnn-default.nmm"
nm_cnn_default_model_end:
        .size nm_cnn_default_model, nm_cnn_default_model_end - nm_cnn_default_model
        .balign 4
        .globl nm_cnn_default_model_size
        .hidden nm_cnn_default_model_size
        .type nm_cnn_default_model_size, @object
nm_cnn_default_model_size:
        .long nm_cnn_default_model_end - nm_cnn_default_model
        .size nm_cnn_default_model_size, 4
        .section .note.GNU-stack,"",@progbits
