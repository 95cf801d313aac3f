create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(1) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(3000000000) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(-1) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(ti+1) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(ti+200) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(ti*1000) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(si+1) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(i+1) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(bi+1) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(uti+1) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(uti-1) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(uti+-1) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(d+1) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(d+100000) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(f+1) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(1+1) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(1/2) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(ti/2) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(ti%2) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(coalesce(ti,1)) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(greatest(ti,1)) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(1::bigint+1) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(1.5) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(1e3) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(ti+1.5) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(ti & 1) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(list_value(1, ti)) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(ti + (1+1)) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(i*2) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(9223372036854775807) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(2147483648) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(-2147483648) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(ti + si) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(1 + 2.5) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(count(*) + 1) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(length('a') + 1) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(10 % 3) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(power(2, 3)) from t
create table t as select 1::tinyint ti, 2::smallint si, 3::int i, 4::bigint bi, 5::utinyint uti, 1.5::decimal(4,1) d, 2.5::double f, 7::hugeint h; select typeof(i + 3000000000) from t
create table t as SELECT * FROM (VALUES (9223372036854775807, CAST(100 AS TINYINT), CAST(2.5 AS DOUBLE), CAST(3.5 AS FLOAT), 2.5, 'abc', DATE '2024-05-06'), (-3, CAST(-128 AS TINYINT), CAST(-2.5 AS DOUBLE), CAST(-0.5 AS FLOAT), -3.5, 'xyz', DATE '2023-12-31')) AS v(i, small, d, f, m, s, day); create table n as select 1 as a, 3000000000 as b, small + 1 as c, [1] as l from t where small > 0; select column_name, column_type from (describe n)
CREATE TABLE wide(x BIGINT, y SMALLINT); INSERT INTO wide VALUES (1, 2), (3000000000, 4); INSERT INTO wide SELECT 5, 6; UPDATE wide SET x = 7 WHERE y = 2; SELECT typeof(x), typeof(y), x, y FROM wide ORDER BY y
SELECT typeof(x), x FROM (SELECT 1 AS x UNION ALL SELECT 3000000000) ORDER BY x
SELECT typeof(a), typeof(b), a, b FROM (VALUES (1, [1]), (NULL, []), (2, NULL)) v(a, b) ORDER BY a
