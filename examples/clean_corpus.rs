//! A corpus-cleaning job on Tarn's Rust DataFrame API: read → hash-partition by URL → exact
//! dedup per partition (one document per URL, the best by quality) → length filter → write.
//!
//! ```text
//! cargo run -p tarn-engine --example clean_corpus -- examples/data/corpus.parquet /tmp/clean
//! ```
//!
//! Every document of a URL lands in the same partition, so deduplicating each partition on its
//! own is exact. Settings come from `TARN_*` variables (`TARN_DATA_ROOT`, `TARN_CONCURRENCY`,
//! `TARN_JOB_ID` to resume a run).

use std::error::Error;

use tarn_engine::{ReadParquet, Session};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        return Err("usage: clean_corpus INPUT_PARQUET_OR_FOLDER OUTPUT_FOLDER".into());
    };
    let session = Session::from_env()?;
    let docs = session
        .read_parquet(&[input.as_str()], ReadParquet::default())
        .await?;
    let cleaned = docs
        .repartition_hash(16, &["url"])?
        .partial_sql(
            "SELECT * EXCLUDE (__data_partition__) FROM {0}
             QUALIFY row_number() OVER (PARTITION BY url ORDER BY quality DESC, id) = 1",
        )
        .await?
        .filter("length(text) >= 35")
        .await?;
    println!("{}", cleaned.explain());
    let report = cleaned.write_parquet(output).await?;
    println!("{}", report.summary());
    Ok(())
}
