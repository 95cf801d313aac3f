//! `s3://` against a real S3-compatible server (s3s-fs) started on loopback for these tests.

use futures::TryStreamExt;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use tarn_fs::Stores;

const BUCKET: &str = tarn_fs::testing::BUCKET;

#[tokio::test]
async fn objects_round_trip_through_the_server() {
    tarn_fs::testing::s3_server();
    let stores = Stores::default();
    let (store, path) = stores
        .resolve(&format!("s3://{BUCKET}/docs/a.txt"))
        .unwrap();
    store
        .put(&path, PutPayload::from_static(b"first document"))
        .await
        .unwrap();
    let (_, other) = stores
        .resolve(&format!("s3://{BUCKET}/docs/b.txt"))
        .unwrap();
    store
        .put(&other, PutPayload::from(crate::pattern(3 << 20)))
        .await
        .unwrap();

    let got = store.get(&path).await.unwrap().bytes().await.unwrap();
    assert_eq!(&got[..], b"first document");
    let ranges = store
        .get_ranges(&other, &[10..20, (3 << 20) - 4..3 << 20])
        .await
        .unwrap();
    assert_eq!(&ranges[0][..], &crate::pattern(20)[10..]);
    assert_eq!(&ranges[1][..], &crate::pattern(3 << 20)[(3 << 20) - 4..]);

    let (_, prefix) = stores.resolve(&format!("s3://{BUCKET}/docs")).unwrap();
    let mut listed: Vec<String> = store
        .list(Some(&prefix))
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await
        .unwrap();
    listed.sort();
    assert_eq!(listed, ["docs/a.txt", "docs/b.txt"]);
}

#[tokio::test]
async fn a_missing_object_is_not_found_and_names_its_path() {
    tarn_fs::testing::s3_server();
    let (store, path) = Stores::default()
        .resolve(&format!("s3://{BUCKET}/nothing/here.parquet"))
        .unwrap();
    let err = store.get(&path).await.unwrap_err();
    assert!(matches!(err, object_store::Error::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("nothing/here.parquet"), "{err}");
}
