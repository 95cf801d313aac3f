//! Cluster mode on Apache Ballista: the same SQL and the same partitioned jobs on many
//! machines, with DataFusion's own distributed engine doing the scheduling.
//!
//! * [`servers`]: `tarn cluster scheduler` and `tarn cluster executor`, Ballista's processes
//!   with what Tarn adds registered in them (functions, object stores, codecs).
//! * A [`crate::SqlSession`] whose settings name a cluster plans each query here and sends the
//!   plan to the scheduler ([`remote_state`]); in-memory tables travel inside it ([`codec`]).
//! * A partitioned job's stage becomes one Ballista job of one task per partition
//!   ([`stage`]); the tasks read and write under the job's `data_root`, which every machine
//!   must share, as in Smallpond.
//! * [`status`]: what `tarn cluster status` shows, from the scheduler's REST API.
//!
//! Ballista's protocol has no authentication: servers bind to loopback unless told otherwise,
//! and a cluster belongs on a private network.

mod codec;
mod ipc;
mod local_tables;
pub mod servers;
pub(crate) mod stage;
pub mod status;

use std::fmt;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use ballista_core::extension::{SessionConfigExt, SessionStateExt};
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};

pub use codec::{TarnLogicalCodec, TarnPhysicalCodec};
pub(crate) use local_tables::ready_for_cluster;

use crate::error::{Result, TarnError};

/// Where a cluster's scheduler listens, as users write it: `df://host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterUrl {
    host: String,
    port: u16,
}

impl ClusterUrl {
    /// Parses `df://host:port` (the port defaults to Ballista's 50050).
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = |why: &str| {
            TarnError::Invalid(format!(
                "'{text}' is not a cluster address: {why} (expected df://host:port)"
            ))
        };
        let rest = text
            .trim()
            .strip_prefix("df://")
            .ok_or_else(|| invalid("it does not start with df://"))?;
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) => (
                host,
                port.parse()
                    .map_err(|_| invalid("the port is not a number"))?,
            ),
            None => (rest, 50050),
        };
        if host.is_empty() || host.contains('/') {
            return Err(invalid("no host name"));
        }
        Ok(ClusterUrl {
            host: host.to_string(),
            port,
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL Ballista's client and REST API take.
    pub fn scheduler_url(&self) -> String {
        format!("http://{}:{}", self.host, self.port)
    }

    /// A connection to the scheduler, or one line naming the address and why not.
    pub fn connect(&self) -> Result<TcpStream> {
        let unreachable = |why: String| {
            TarnError::Invalid(format!(
                "cannot reach the cluster scheduler at {self}: {why}"
            ))
        };
        let addresses = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| unreachable(e.to_string()))?;
        let mut last = String::from("the host name resolves to no address");
        for address in addresses {
            match TcpStream::connect_timeout(&address, Duration::from_secs(5)) {
                Ok(stream) => return Ok(stream),
                Err(e) => last = e.to_string(),
            }
        }
        Err(unreachable(last))
    }

    /// Fails with one line when the scheduler cannot be reached or has no executor, so that a
    /// wrong address or an empty cluster is reported on connecting, not by a query that waits
    /// for executors forever.
    pub fn check_ready(&self) -> Result<()> {
        if status::executors(self)?.is_empty() {
            return Err(TarnError::Invalid(format!(
                "the cluster at {self} has no executors; start one with `tarn cluster executor \
                 --scheduler {}:{}`",
                self.host, self.port
            )));
        }
        Ok(())
    }
}

impl fmt::Display for ClusterUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "df://{}:{}", self.host, self.port)
    }
}

/// `state` turned into a client of the cluster at `url`: its queries are planned here and run
/// there, with Tarn's codecs on both ends. The caller registers Tarn's functions again.
pub(crate) fn remote_state(state: SessionState, url: &str) -> Result<SessionState> {
    let url = ClusterUrl::parse(url)?;
    url.check_ready()?;
    let config = state
        .config()
        .clone()
        .with_ballista_logical_extension_codec(std::sync::Arc::new(TarnLogicalCodec::default()))
        .with_ballista_physical_extension_codec(std::sync::Arc::new(TarnPhysicalCodec::default()));
    let state = SessionStateBuilder::new_from_existing(state)
        .with_config(config)
        .build();
    Ok(state.upgrade_for_ballista(url.scheduler_url())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_addresses_parse_or_say_why_not() {
        let url = ClusterUrl::parse("df://10.0.0.5:6000").unwrap();
        assert_eq!((url.host(), url.port()), ("10.0.0.5", 6000));
        assert_eq!(url.scheduler_url(), "http://10.0.0.5:6000");
        assert_eq!(ClusterUrl::parse("df://head").unwrap().port(), 50050);
        let err = ClusterUrl::parse("http://head:50050")
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not start with df://"), "{err}");
        let err = ClusterUrl::parse("df://head:port").unwrap_err().to_string();
        assert!(err.contains("the port is not a number"), "{err}");
    }

    #[test]
    fn an_unreachable_scheduler_is_named() {
        // A port nothing listens on: bind one, note it, let it go.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = ClusterUrl::parse(&format!("df://127.0.0.1:{port}")).unwrap();
        let err = url.check_ready().unwrap_err().to_string();
        assert!(
            err.contains(&format!(
                "cannot reach the cluster scheduler at df://127.0.0.1:{port}"
            )),
            "{err}"
        );
    }
}
