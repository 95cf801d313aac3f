//! `tarn sort`: the GraySort benchmark, byte-compatible with gensort and valsort 1.5.
//!
//! * [`format`]: gensort's records and valsort's checksum.
//! * [`generate_files`]: `tarn sort gen`.
//! * [`sort`]: `tarn sort run`, a two-stage job on the partitioned-job executor.
//! * [`validate`]: `tarn sort validate`.

mod direct;
mod files;
pub mod format;
mod generate;
mod job;
mod radix;
mod validate;

pub use files::record_folder;
pub use format::{Checksum, RECORD_LEN, RecordFormat};
pub use generate::{GenOptions, Generated, gen_file_name, generate_files};
pub use job::{MEMORY_FOLDER, Shuffle, SortOptions, Sorted, part_file_name, sort};
pub use validate::{Validation, validate};
