-- The extension loads and says what it is.
SELECT nanomorph_version() LIKE '0.%';
SELECT count(*) FROM sqlite_master WHERE name = 'nanomorph_models';
SELECT name FROM pragma_table_info('nanomorph_models') ORDER BY cid;
