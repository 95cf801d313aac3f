//! The local store on real files: ranged reads from a map and through each ring, large streamed reads, atomic puts.

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use tarn_fs::LocalStore;
use tarn_fs::ring::RingKind;

use crate::pattern;

fn object(path: &std::path::Path) -> Path {
    Path::from_absolute_path(path).unwrap()
}

#[tokio::test]
async fn get_ranges_reads_the_same_bytes_from_a_map_and_through_either_ring() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("column-chunks.bin");
    let bytes = pattern(5 << 20);
    std::fs::write(&file, &bytes).unwrap();
    let empty = dir.path().join("empty.bin");
    std::fs::write(&empty, b"").unwrap();
    let ranges = [0..4, 100..(3 << 20), (5 << 20) - 8..5 << 20, 4096..4096];
    let stores = [
        ("map", LocalStore::mapping()),
        ("uring", LocalStore::with_ring(RingKind::Uring)),
        ("pread", LocalStore::with_ring(RingKind::Pread)),
    ];
    for (name, store) in stores {
        let read = store.get_ranges(&object(&file), &ranges).await.unwrap();
        for (got, range) in read.iter().zip(&ranges) {
            assert!(
                got[..] == bytes[range.start as usize..range.end as usize],
                "{name} {range:?}"
            );
        }
        let nothing = store
            .get_ranges(&object(&empty), std::slice::from_ref(&(0..0)))
            .await
            .unwrap();
        assert!(nothing[0].is_empty(), "{name}");
    }
}

#[tokio::test]
async fn errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new();
    let missing = dir.path().join("missing.parquet");
    let err = store
        .get_ranges(&object(&missing), std::slice::from_ref(&(0..1)))
        .await
        .unwrap_err();
    assert!(matches!(err, object_store::Error::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("missing.parquet"), "{err}");

    let short = dir.path().join("short.parquet");
    std::fs::write(&short, b"PAR1").unwrap();
    for store in [
        LocalStore::mapping(),
        LocalStore::with_ring(RingKind::Uring),
    ] {
        let err = store
            .get_ranges(&object(&short), &[0..2, 0..100])
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("short.parquet") && err.contains("unexpected end of file"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn a_whole_object_streams_in_blocks_of_a_mebibyte() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.bin");
    let bytes = pattern((2 << 20) + 5);
    std::fs::write(&file, &bytes).unwrap();
    let store = LocalStore::new();
    let chunks: Vec<_> = store
        .get(&object(&file))
        .await
        .unwrap()
        .into_stream()
        .try_collect()
        .await
        .unwrap();
    let sizes: Vec<usize> = chunks.iter().map(|c| c.len()).collect();
    assert_eq!(sizes, [1 << 20, 1 << 20, 5]);
    assert!(chunks.concat() == bytes);
}

#[tokio::test]
async fn put_publishes_whole_files_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out/part-0.bin");
    let store = LocalStore::new();
    let payload = PutPayload::from_iter([pattern(1000), pattern(3000)].map(bytes::Bytes::from));
    store.put(&object(&file), payload).await.unwrap();
    assert_eq!(
        std::fs::read(&file).unwrap(),
        [pattern(1000), pattern(3000)].concat()
    );
    let names: Vec<_> = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["part-0.bin"]);
}
