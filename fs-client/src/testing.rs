//! Test support shared by the crates' tests (feature `testing`): a real S3-compatible server.

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The bucket the tests use; s3s-fs serves each folder under its root as a bucket.
pub const BUCKET: &str = "corpus";

/// Server folders are named by the test process's id, so that concurrent test binaries each
/// get their own.
const ROOT_PREFIX: &str = "tarn-s3s-fs-";

/// Removes the server folders of test processes that have ended.
fn remove_stale_roots() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ended = name
            .strip_prefix(ROOT_PREFIX)
            .and_then(|pid| pid.parse::<u32>().ok())
            .is_some_and(|pid| !PathBuf::from(format!("/proc/{pid}")).exists());
        if ended {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

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

/// The folder the server keeps its buckets in, one subfolder per bucket.
pub fn s3_root() -> PathBuf {
    std::env::temp_dir().join(format!("{ROOT_PREFIX}{}", std::process::id()))
}

/// Starts the server once for this test binary and points the `AWS_*` variables at it. The
/// server is started from a thread that lives as long as the process and asks the kernel to kill
/// the server when that thread ends, so no server outlives the tests.
pub fn s3_server() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        remove_stale_roots();
        let root = s3_root();
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join(BUCKET)).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let binary = s3s_fs();
        std::thread::spawn(move || {
            let mut command = Command::new(binary);
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
