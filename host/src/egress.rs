//! The egress log: every outgoing request of every plugin call, refused ones
//! included, stored for the retention period of `egress` (`crate::retention`)
//! and shown per plugin in the API and the web UI. Calls hand their requests
//! to a bounded queue (never blocking a call); one task writes them in batches.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::runtime::{EgressCall, EgressSink};
pub use crate::store::egress::{EgressEntry, list};
use crate::store::{Db, egress as store};

/// Calls waiting to be written; beyond this they are counted and dropped.
const QUEUE: usize = 4096;
/// Calls written per transaction at most.
const BATCH: usize = 256;

enum Message {
    Call(Box<EgressCall>),
    Flush(oneshot::Sender<()>),
}

/// The sink the runtime reports to; cheap to clone.
#[derive(Clone)]
pub struct EgressLog {
    queue: mpsc::Sender<Message>,
}

impl EgressLog {
    /// Starts the writer on the current tokio runtime (without one, records
    /// are counted as dropped).
    pub fn start(db: Db) -> EgressLog {
        let (queue, receiver) = mpsc::channel(QUEUE);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(write(db, receiver))),
            Err(_) => tracing::warn!("no async runtime: the egress log keeps nothing"),
        }
        EgressLog { queue }
    }

    /// Waits until everything recorded so far is written (before a command
    /// that recorded requests exits).
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.queue.send(Message::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }
}

impl EgressSink for EgressLog {
    fn record(&self, call: EgressCall) {
        if self.queue.try_send(Message::Call(Box::new(call))).is_err() {
            metrics::counter!(crate::metrics::EGRESS_DROPPED).increment(1);
        }
    }
}

/// The writer: batches of calls in one transaction each.
async fn write(db: Db, mut receiver: mpsc::Receiver<Message>) {
    let mut batch = Vec::with_capacity(BATCH);
    while receiver.recv_many(&mut batch, BATCH).await > 0 {
        let mut flushed = Vec::new();
        let calls: Vec<EgressCall> = batch
            .drain(..)
            .filter_map(|m| match m {
                Message::Call(call) => Some(*call),
                Message::Flush(done) => {
                    flushed.push(done);
                    None
                }
            })
            .collect();
        if let Err(e) = store::insert(&db, &calls).await {
            tracing::warn!(error = %e, calls = calls.len(), "cannot write the egress log");
        }
        for done in flushed {
            let _ = done.send(());
        }
    }
}

/// Installs the log as `runtime`'s egress sink (once per runtime) and returns it.
pub fn attach(runtime: &crate::runtime::Runtime, db: &Db) -> Arc<EgressLog> {
    let log = Arc::new(EgressLog::start(db.clone()));
    runtime.record_egress_to(log.clone());
    log
}
