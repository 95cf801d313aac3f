create table t(id bigint primary key, price decimal(10,2) check (price >= 0), tags varchar[], n int default 1+2 not null, u varchar unique, check (n < 100)); select table_name, column_count, index_count, check_constraint_count, has_primary_key, sql from duckdb_tables()
create table t(a int, b varchar); insert into t values (1, 'x'), (2, 'y'); select table_name, estimated_size, sql from duckdb_tables()
create table k(a int, b int, primary key(a, b)); select sql from duckdb_tables()
create table "Odd Name"("x y" int, "select" double); select sql from duckdb_tables()
create table c as select 1 as x, 'a' as y, [1.5] as l, {'a': 1} as s; select sql from duckdb_tables()
create schema s; create table s.x(a int); create table b(a int); select database_name, schema_name, table_name, sql from duckdb_tables() order by all
create table t(id bigint primary key, price decimal(10,2), tags varchar[], n int default 1+2 not null, f float, d double, ti tinyint, si smallint, u ubigint); select column_name, column_index, column_default, is_nullable, data_type, numeric_precision, numeric_precision_radix, numeric_scale from duckdb_columns() where table_name = 't'
create view v(q) as select 1 as x; select view_name, column_count, sql from duckdb_views() where not internal
create table t(a int); create view v as select a + 1 as b from t; select table_name, column_name, is_nullable, data_type from duckdb_columns where not internal order by all
create table t(a int); create view v as select * from t; select count(*) from duckdb_tables
create schema s; select schema_name, internal from duckdb_schemas() where database_name = 'memory' order by all
create table t(a int, b varchar); select table_name, column_name, ordinal_position, data_type from information_schema.columns where table_schema = 'main' order by all
create table t(a int); alter table t rename column a to b; alter table t add column c varchar default 'z'; select sql from duckdb_tables()
create table t(a int); create table u(b int); drop table t; select table_name from duckdb_tables()
select typeof(current_setting('threads')), typeof(current_setting('memory_limit')), typeof(current_setting('preserve_insertion_order'))
set preserve_insertion_order = false; select current_setting('preserve_insertion_order')
set memory_limit = '1GB'; select current_setting('memory_limit'), current_setting('max_memory')
set memory_limit = '1500MB'; select value from duckdb_settings() where name = 'memory_limit'
set threads = 3; select current_setting('threads'), current_setting('worker_threads')
select name, input_type from duckdb_settings() where name in ('threads', 'memory_limit', 'preserve_insertion_order') order by name
select current_setting(NULL)
select current_setting('no_such_setting')
SHOW DATABASES
CREATE TABLE t (id UUID, v INTEGER); INSERT INTO t VALUES ('0b4e1bd8-2b4d-4d3e-8a2e-6f7f2c1c0a11', 1); SELECT id, v FROM t
CREATE TABLE u (k INTEGER PRIMARY KEY, a INTEGER NOT NULL, b INTEGER DEFAULT 3); ALTER TABLE u ALTER a DROP NOT NULL; INSERT INTO u VALUES (1, NULL, DEFAULT); ALTER TABLE u ALTER b DROP DEFAULT; INSERT INTO u (k) VALUES (2); ALTER TABLE u ALTER COLUMN b SET DEFAULT 10 + 1; INSERT INTO u (k, a) VALUES (3, 0); SELECT * FROM u ORDER BY k
CREATE TABLE t (a INT); CREATE INDEX idx ON t (a); INSERT INTO t VALUES (1); DROP INDEX idx; SELECT * FROM t
CREATE SCHEMA s; CREATE TABLE s.t AS SELECT 1 AS x; USE s; SELECT * FROM t
CREATE SCHEMA s; USE s; CREATE TABLE t AS SELECT 1 AS x; SELECT table_schema, table_name FROM information_schema.tables WHERE table_name = 't'
CREATE SCHEMA s; SET schema = 's'; CREATE TABLE u AS SELECT 2 AS y; SELECT * FROM s.u
CREATE SCHEMA s; USE s; SELECT current_schema(), current_setting('schema')
CREATE SCHEMA s; USE memory.s; USE memory; SELECT current_schema()
CREATE SCHEMA s; CREATE TABLE t AS SELECT 'main' AS w; CREATE TABLE s.t AS SELECT 's' AS w; SET search_path = 's'; SELECT * FROM t
CREATE TABLE t (x INT); COMMENT ON TABLE t IS 'hello'; SELECT comment FROM duckdb_tables() WHERE table_name = 't'
CREATE TABLE t (x INT, y INT); COMMENT ON COLUMN t.x IS 'col'; SELECT column_name, comment FROM duckdb_columns() WHERE table_name = 't' ORDER BY 1
CREATE TABLE t (x INT, y INT); COMMENT ON COLUMN t.x IS 'col'; ALTER TABLE t ADD COLUMN z INT; SELECT column_name, comment FROM duckdb_columns() WHERE table_name = 't' ORDER BY 1
CREATE TABLE t (x INT, y INT); COMMENT ON COLUMN t.x IS 'col'; ALTER TABLE t RENAME COLUMN x TO xx; SELECT column_name, comment FROM duckdb_columns() WHERE table_name = 't' ORDER BY 1
CREATE TABLE t (x INT); COMMENT ON TABLE t IS 'hello'; ALTER TABLE t RENAME TO u; SELECT table_name, comment FROM duckdb_tables()
CREATE VIEW v AS SELECT 1 AS a; COMMENT ON VIEW v IS 'vv'; SELECT view_name, comment FROM duckdb_views() WHERE NOT internal
CREATE VIEW v AS SELECT 1 AS a; COMMENT ON TABLE v IS 'vv'; SELECT view_name, comment FROM duckdb_views() WHERE NOT internal
CREATE TABLE t (x INT); COMMENT ON TABLE t IS 'hello'; COMMENT ON TABLE t IS NULL; SELECT comment FROM duckdb_tables()
CREATE TABLE t (x INT); COMMENT ON TABLE t IS 'hello'; CREATE OR REPLACE TABLE t (y INT); SELECT comment FROM duckdb_tables()
CREATE TABLE t (x INT); COMMENT ON TABLE t IS 'it''s'; SELECT comment FROM duckdb_tables()
CREATE SCHEMA a; CREATE SCHEMA b; CREATE TABLE a.x AS SELECT 'ax' AS v; CREATE TABLE b.x AS SELECT 'bx' AS v; CREATE TABLE b.y AS SELECT 'by' AS v; CREATE TABLE main.z AS SELECT 'mz' AS v; SET search_path = 'a,b'; SELECT x.v AS xv, y.v AS yv, z.v AS zv, current_schema(), current_setting('search_path'), current_setting('schema') FROM x, y, z
CREATE SCHEMA a; CREATE SCHEMA b; CREATE TABLE b.y AS SELECT 'by' AS v; SET search_path = 'a,b'; CREATE TABLE y AS SELECT v || '!' AS v FROM y; SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema IN ('a', 'b') ORDER BY ALL
CREATE SCHEMA a; CREATE SCHEMA b; CREATE TABLE b.y AS SELECT 'by' AS v; SET search_path = 'a,b'; INSERT INTO y VALUES ('new'); UPDATE y SET v = upper(v) WHERE v = 'new'; DELETE FROM y WHERE v = 'by'; SELECT * FROM b.y
CREATE SCHEMA a; CREATE TABLE main.z AS SELECT 'mz' AS v; USE a; SELECT * FROM z
CREATE SCHEMA a; CREATE SCHEMA b; CREATE TABLE b.y AS SELECT 1 AS i; SET search_path = 'a,b'; DROP TABLE y; SELECT count(*) FROM information_schema.tables WHERE table_schema = 'b'
CREATE SCHEMA a; SET search_path = 'a,nope'
CREATE TABLE docs(id INT, body VARCHAR); CREATE VIEW v AS SELECT id FROM docs; COMMENT ON TABLE docs IS 'pages'; COMMENT ON VIEW v IS 'ids'; SELECT * FROM information_schema.tables ORDER BY table_name
CREATE TABLE docs(id INT, body VARCHAR); COMMENT ON COLUMN docs.body IS 'utf-8'; SELECT table_name, column_name, ordinal_position, data_type, COLUMN_COMMENT FROM information_schema.columns ORDER BY ordinal_position
DESCRIBE SELECT 1 AS a, 'x' AS b, [1] AS c, {'k': 1} AS d, MAP {'a': 1} AS e, 1.5::DECIMAL(4,1) AS f
CREATE TABLE t(a INT NOT NULL, b INT); DESCRIBE SELECT a + 1, a, a AS z, b, count(*) OVER () FROM t
