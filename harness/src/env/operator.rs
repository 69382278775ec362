//! The operator under test, run in-process as a tokio task, with a handle a
//! disruption test can stop, restart (a fresh client, like a new pod) and wait on.
//!
//! The handle is shared with the `TestEnv` that spawned it, so the env can
//! stop every operator first when the test ends (an operator still writing
//! while its namespace is deleted fills the log with conflicts and can
//! recreate what teardown removes).

use std::fmt::Display;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::BoxFuture;
use kube::Client;
use tokio::task::JoinHandle;

use super::error::EnvError;
use super::logs::OperatorLogs;
use super::namespace::Connector;

type Factory = Arc<dyn Fn(Client) -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

struct Inner {
    name: String,
    factory: Factory,
    connector: Connector,
    namespace: String,
    logs: OperatorLogs,
    task: Mutex<Option<JoinHandle<Result<(), String>>>>,
    starts: AtomicU32,
}

/// A running operator. Cheap to clone; every clone controls the same task.
/// The env that spawned it stops it when the test ends.
#[derive(Clone)]
pub struct OperatorHandle {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for OperatorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorHandle")
            .field("name", &self.inner.name)
            .field("namespace", &self.inner.namespace)
            .field("starts", &self.starts())
            .field("running", &self.is_running())
            .finish()
    }
}

impl OperatorHandle {
    pub(crate) fn spawn<F, Fut, E>(
        name: &str,
        connector: Connector,
        namespace: String,
        logs: OperatorLogs,
        run: F,
    ) -> Result<Self, EnvError>
    where
        F: Fn(Client) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Display,
    {
        let factory: Factory = Arc::new(move |client| {
            let fut = run(client);
            async move { fut.await.map_err(|e| e.to_string()) }.boxed()
        });
        let handle = OperatorHandle {
            inner: Arc::new(Inner {
                name: name.to_string(),
                factory,
                connector,
                namespace,
                logs,
                task: Mutex::new(None),
                starts: AtomicU32::new(0),
            }),
        };
        handle.start()?;
        Ok(handle)
    }

    fn task(&self) -> std::sync::MutexGuard<'_, Option<JoinHandle<Result<(), String>>>> {
        self.inner.task.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn start(&self) -> Result<(), EnvError> {
        let client = self
            .inner
            .connector
            .client_as(&self.inner.namespace, Some(&self.inner.name))?;
        let run = self
            .inner
            .logs
            .capture(&self.inner.name, (self.inner.factory)(client));
        *self.task() = Some(tokio::spawn(run));
        self.inner.starts.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// The name its log lines carry (`[rollout-operator] …`).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Is the operator's future still running?
    pub fn is_running(&self) -> bool {
        self.task().as_ref().is_some_and(|t| !t.is_finished())
    }

    /// How many times it was started (1 + restarts).
    pub fn starts(&self) -> u32 {
        self.inner.starts.load(Ordering::SeqCst)
    }

    /// Stop it (abort the task, like SIGKILL) and wait until it is gone.
    pub async fn stop(&self) {
        let task = self.task().take();
        if let Some(t) = task {
            t.abort();
            let _ = t.await;
        }
    }

    /// Abort without waiting (for `Drop`, where nothing can be awaited).
    pub(crate) fn abort(&self) {
        if let Some(t) = self.task().take() {
            t.abort();
        }
    }

    /// Stop it and start it again with a fresh client, like a pod restart.
    /// The captured logs mark the restart.
    pub async fn restart(&self) -> Result<(), EnvError> {
        self.stop().await;
        self.inner.logs.push(format!(
            "[{}] --- restarted by the test ---",
            self.inner.name
        ));
        self.start()
    }

    /// Wait until the operator returns. `Err` if it returned an error,
    /// panicked, or was not running.
    pub async fn wait(&self) -> Result<(), EnvError> {
        let task = self.task().take();
        let Some(t) = task else {
            return Err(EnvError::Operator(format!(
                "{} is not running",
                self.inner.name
            )));
        };
        let name = &self.inner.name;
        match t.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(EnvError::Operator(format!("{name} returned an error: {e}"))),
            Err(e) if e.is_panic() => Err(EnvError::Operator(format!(
                "{name} panicked: {}",
                panic_text(e)
            ))),
            Err(_) => Err(EnvError::Operator(format!("{name} was cancelled"))),
        }
    }
}

fn panic_text(e: tokio::task::JoinError) -> String {
    let p = e.into_panic();
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".into())
}
