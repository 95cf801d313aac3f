//! `s3://` against a real S3-compatible server (s3s-fs) started on loopback for these tests.

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use tarn_fs::Stores;

/// The bucket the tests use; s3s-fs serves each folder under its root as a bucket.
const BUCKET: &str = "corpus";

/// The s3s-fs binary: `TARN_S3S_FS`, else `s3s-fs` on the PATH (`.ci/run` installs it).
fn s3s_fs() -> PathBuf {
    if let Ok(path) = std::env::var("TARN_S3S_FS") {
        return PathBuf::from(path);
    }
    let on_path = std::env::var_os("PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("s3s-fs"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .find(|candidate| candidate.is_file());
    on_path.expect("s3s-fs not found: run `scripts/install-test-tools.sh` (or set TARN_S3S_FS)")
}

/// Starts the server once for this test binary and points the `AWS_*` variables at it. The
/// server is started from a thread that lives as long as the process and asks the kernel to kill
/// the server when that thread ends, so no server outlives the tests.
fn server() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("s3s-fs");
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join(BUCKET)).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        std::thread::spawn(move || {
            let mut command = Command::new(s3s_fs());
            command
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args([
                    "--access-key",
                    "tarn-test",
                    "--secret-key",
                    "tarn-test-secret",
                ])
                .arg(&root)
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            // SAFETY: prctl is async-signal-safe.
            unsafe {
                command.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                })
            };
            let mut child = command.spawn().expect("start s3s-fs");
            let _ = child.wait();
        });
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "s3s-fs did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // SAFETY: set once, before any S3 client of this process reads them.
        unsafe {
            std::env::set_var("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"));
            std::env::set_var("AWS_ACCESS_KEY_ID", "tarn-test");
            std::env::set_var("AWS_SECRET_ACCESS_KEY", "tarn-test-secret");
            std::env::set_var("AWS_REGION", "us-east-1");
        }
    });
}

#[tokio::test]
async fn objects_round_trip_through_the_server() {
    server();
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
    server();
    let (store, path) = Stores::default()
        .resolve(&format!("s3://{BUCKET}/nothing/here.parquet"))
        .unwrap();
    let err = store.get(&path).await.unwrap_err();
    assert!(matches!(err, object_store::Error::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("nothing/here.parquet"), "{err}");
}
