//! End-to-end tests of the storage layer on real files, real rings and a real S3 server.

mod local_store;
mod publish_crash;
mod rings;
mod s3;

/// Bytes that differ at every offset, so a read from the wrong place is caught.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}
