//! Atomic publish under a crash: a writer killed between writing and renaming leaves no file under
//! the final name. The writer is this test binary run again as a child process.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use tarn_fs::AtomicFile;

const TARGET: &str = "TARN_FS_CRASH_TARGET";
const PAUSE: &str = "TARN_FS_CRASH_PAUSE";
const SIZE: usize = 8 << 20;

/// The child: writes the whole file, says so, waits (to be killed there), then commits.
#[test]
#[ignore = "run by a_writer_killed_before_the_rename_leaves_no_file as a child process"]
fn crash_writer() {
    let target = std::env::var(TARGET).expect("run by the crash test");
    let mut file = AtomicFile::create(&target).unwrap();
    file.write_all(&crate::pattern(SIZE)).unwrap();
    file.flush().unwrap();
    println!("written");
    std::io::stdout().flush().unwrap();
    if std::env::var(PAUSE).is_ok() {
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
    file.commit().unwrap();
}

fn run_writer(target: &Path, pause: bool) -> std::process::Child {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--ignored",
            "--exact",
            "publish_crash::crash_writer",
            "--nocapture",
        ])
        .env(TARGET, target)
        .stdout(Stdio::piped());
    if pause {
        command.env(PAUSE, "1");
    }
    command.spawn().unwrap()
}

fn hidden_files(dir: &Path) -> Vec<u64> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.metadata().unwrap().len())
        .collect()
}

#[test]
fn a_writer_killed_before_the_rename_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("part-00000.parquet");
    let mut child = run_writer(&target, true);
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let said = stdout.lines().map(|l| l.unwrap()).find(|l| l == "written");
    assert!(said.is_some(), "the writer never finished writing");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !target.exists(),
        "a killed writer left a file under the final name"
    );
    // The data did reach the disk, under the temporary name only.
    assert_eq!(hidden_files(dir.path()), [SIZE as u64]);

    let mut child = run_writer(&target, false);
    assert!(child.wait().unwrap().success());
    assert_eq!(std::fs::read(&target).unwrap(), crate::pattern(SIZE));
}
