//! `tarn sort` end to end: generate, sort as a job, validate; skewed keys; validation that
//! catches what it must.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use tarn_engine::TarnConfig;
use tarn_engine::job::{JobObserver, Quiet};
use tarn_engine::sort::{
    self, GenOptions, RECORD_LEN, RecordFormat, Shuffle, SortOptions, Sorted, gen_file_name,
    part_file_name,
};

fn options(partitions: usize) -> SortOptions {
    SortOptions {
        partitions: Some(partitions),
        config: TarnConfig {
            concurrency: 2,
            ..TarnConfig::default()
        },
        work_dir: None,
        shuffle: Shuffle::Disk,
    }
}

fn generate(dir: &Path, records: u64, files: usize, skew: bool) -> sort::Generated {
    let options = GenOptions {
        records,
        files,
        start: 0,
        format: RecordFormat { ascii: false, skew },
    };
    sort::generate_files(dir, &options).unwrap()
}

async fn sort_into(input: &Path, output: &Path, options: SortOptions) -> Sorted {
    sort::sort(input, output, options, Arc::new(Quiet))
        .await
        .unwrap()
}

#[tokio::test]
async fn uniform_records_sort_and_keep_their_checksum() {
    let root = tempfile::tempdir().unwrap();
    let (input, output) = (root.path().join("in"), root.path().join("out"));
    let generated = generate(&input, 250_000, 3, false);
    assert_eq!(generated.files.len(), 3);

    let sorted = sort_into(&input, &output, options(5)).await;
    assert_eq!(sorted.records, 250_000);
    let names: Vec<String> = fs::read_dir(&output)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut names = names;
    names.sort();
    assert_eq!(names, (0..5).map(part_file_name).collect::<Vec<_>>());

    let validation = sort::validate(&output).unwrap();
    assert!(validation.in_order(), "{:?}", validation.lines());
    assert_eq!(validation.records, 250_000);
    assert_eq!(validation.checksum, generated.checksum);
    assert_eq!(
        validation.lines().last().unwrap(),
        "SUCCESS - all records are in order"
    );
    // The input itself is not sorted, and validation says so.
    assert!(!sort::validate(&input).unwrap().in_order());
}

/// Whether partition stage files sit in `folder`'s `tarn-sort-*/data/n00-partition` when the
/// sort stage starts.
struct ShuffleWatch {
    folder: std::path::PathBuf,
    seen: std::sync::Mutex<Option<usize>>,
}

impl JobObserver for ShuffleWatch {
    fn stage_started(&self, stage: &str, _tasks: usize, _done: usize) {
        if stage != "n01-sort" {
            return;
        }
        let files = walk(&self.folder)
            .iter()
            .filter(|p| p.to_string_lossy().contains("/data/n00-partition/p="))
            .count();
        *self.seen.lock().unwrap() = Some(files);
    }
}

/// Every file under `dir`.
pub(crate) fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flat_map(|e| {
            let path = e.unwrap().path();
            if path.is_dir() {
                walk(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

#[tokio::test]
async fn a_shuffle_in_memory_sorts_the_same_and_leaves_nothing_behind() {
    let root = tempfile::tempdir().unwrap();
    let input = root.path().join("in");
    let generated = generate(&input, 120_000, 2, true);
    let memory = root.path().join("shm");
    fs::create_dir_all(&memory).unwrap();

    let on_disk = root.path().join("disk");
    sort_into(&input, &on_disk, options(4)).await;
    let in_memory = root.path().join("memory");
    let watch = Arc::new(ShuffleWatch {
        folder: memory.clone(),
        seen: Default::default(),
    });
    let options_in_memory = SortOptions {
        shuffle: Shuffle::Memory(memory.clone()),
        ..options(4)
    };
    sort::sort(&input, &in_memory, options_in_memory, watch.clone())
        .await
        .unwrap();
    // Four input slices (two per running task), each routing into all four partitions.
    assert_eq!(*watch.seen.lock().unwrap(), Some(16));
    for p in 0..4 {
        let name = part_file_name(p);
        let same =
            fs::read(on_disk.join(&name)).unwrap() == fs::read(in_memory.join(&name)).unwrap();
        assert!(same, "{name} differs");
    }
    assert_eq!(
        sort::validate(&in_memory).unwrap().checksum,
        generated.checksum
    );
    assert!(walk(&memory).is_empty(), "{:?}", walk(&memory));
    assert!(!in_memory.join(".tarn-sort").exists());

    // More input than the memory limit leaves to sort: refused in one line, or taken to disk.
    let small = SortOptions {
        config: TarnConfig {
            memory_limit: Some(1 << 20),
            ..options(4).config
        },
        ..options(4)
    };
    let forced = SortOptions {
        shuffle: Shuffle::Memory(memory.clone()),
        ..small.clone()
    };
    let err = sort::sort(
        &input,
        &root.path().join("refused"),
        forced,
        Arc::new(Quiet),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("--shuffle disk"), "{err}");
    let auto = SortOptions {
        shuffle: Shuffle::Auto,
        ..small
    };
    let watch = Arc::new(ShuffleWatch {
        folder: root.path().join("auto").join(".tarn-sort"),
        seen: Default::default(),
    });
    sort::sort(&input, &root.path().join("auto"), auto, watch.clone())
        .await
        .unwrap();
    assert_eq!(
        *watch.seen.lock().unwrap(),
        Some(16),
        "on disk, with the job"
    );
}

#[tokio::test]
async fn skewed_keys_still_give_even_partitions() {
    let root = tempfile::tempdir().unwrap();
    let (input, output) = (root.path().join("in"), root.path().join("out"));
    let generated = generate(&input, 400_000, 2, true);
    let sorted = sort_into(&input, &output, options(8)).await;

    let validation = sort::validate(&output).unwrap();
    assert!(validation.in_order());
    assert_eq!(validation.checksum, generated.checksum);
    let sizes: Vec<u64> = sorted
        .files
        .iter()
        .map(|f| fs::metadata(f).unwrap().len() / RECORD_LEN as u64)
        .collect();
    let even = 400_000 / 8;
    // Key-prefix bucketing would put most skewed keys in a few partitions; sampled splitters
    // keep every partition near an even share.
    assert!(
        sizes
            .iter()
            .all(|&s| s > even * 8 / 10 && s < even * 12 / 10),
        "{sizes:?}"
    );
}

#[tokio::test]
async fn validation_catches_a_swapped_pair_and_a_dropped_record() {
    let root = tempfile::tempdir().unwrap();
    let (input, output) = (root.path().join("in"), root.path().join("out"));
    let generated = generate(&input, 50_000, 1, false);
    sort_into(&input, &output, options(2)).await;

    // Swap records 10 and 11 of the second file: record 11 of that file is out of order.
    let second = output.join(part_file_name(1));
    let first_len = fs::metadata(output.join(part_file_name(0))).unwrap().len() / 100;
    let mut bytes = fs::read(&second).unwrap();
    let (a, b) = bytes[1000..1200].split_at_mut(RECORD_LEN);
    a.swap_with_slice(b);
    fs::write(&second, &bytes).unwrap();
    let swapped = sort::validate(&output).unwrap();
    assert_eq!(swapped.unordered, 1);
    assert_eq!(swapped.first_unordered, Some(first_len + 11));
    assert_eq!(swapped.checksum, generated.checksum, "the same records");
    assert!(
        swapped
            .lines()
            .iter()
            .any(|l| l == "ERROR - there are 1 unordered records")
    );

    // Put them back and drop the last record: still in order, but one short, and the
    // checksum no longer matches.
    let (a, b) = bytes[1000..1200].split_at_mut(RECORD_LEN);
    a.swap_with_slice(b);
    bytes.truncate(bytes.len() - RECORD_LEN);
    fs::write(&second, &bytes).unwrap();
    let dropped = sort::validate(&output).unwrap();
    assert!(dropped.in_order());
    assert_eq!(dropped.records, 49_999);
    assert_ne!(dropped.checksum, generated.checksum);
}

#[tokio::test]
async fn bad_inputs_and_occupied_outputs_are_refused_by_name() {
    let root = tempfile::tempdir().unwrap();
    let (input, output) = (root.path().join("in"), root.path().join("out"));
    generate(&input, 1000, 1, false);
    fs::write(input.join("torn.dat"), vec![0u8; 150]).unwrap();
    let err = sort::sort(&input, &output, options(2), Arc::new(Quiet))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("torn.dat") && err.contains("100-byte records"),
        "{err}"
    );

    fs::remove_file(input.join("torn.dat")).unwrap();
    fs::create_dir_all(&output).unwrap();
    fs::write(output.join("keep.txt"), "mine").unwrap();
    let err = sort::sort(&input, &output, options(2), Arc::new(Quiet))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(fs::read_to_string(output.join("keep.txt")).unwrap(), "mine");

    let err = sort::generate_files(
        &input,
        &GenOptions {
            records: 10,
            files: 1,
            start: 0,
            format: RecordFormat::default(),
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("already exists"), "{err}");
    assert!(input.join(gen_file_name(0)).exists());
}
