//! The operator under test, run in-process as a tokio task, with a handle a
//! disruption test can stop, restart (a fresh client, like a new pod) and wait on.

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::FutureExt;
use kube::Client;
use tokio::task::JoinHandle;

use super::error::EnvError;
use super::namespace::Connector;

type Factory = Arc<dyn Fn(Client) -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// A running operator. Dropping the handle stops it.
pub struct OperatorHandle {
    factory: Factory,
    connector: Connector,
    namespace: String,
    task: Option<JoinHandle<Result<(), String>>>,
    starts: u32,
}

impl std::fmt::Debug for OperatorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorHandle")
            .field("namespace", &self.namespace)
            .field("starts", &self.starts)
            .field("running", &self.is_running())
            .finish()
    }
}

impl OperatorHandle {
    pub(crate) fn spawn<F, Fut, E>(
        connector: Connector,
        namespace: String,
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
        let mut handle = OperatorHandle {
            factory,
            connector,
            namespace,
            task: None,
            starts: 0,
        };
        handle.start()?;
        Ok(handle)
    }

    fn start(&mut self) -> Result<(), EnvError> {
        let client = self.connector.client(&self.namespace)?;
        self.task = Some(tokio::spawn((self.factory)(client)));
        self.starts += 1;
        Ok(())
    }

    /// Is the operator's future still running?
    pub fn is_running(&self) -> bool {
        self.task.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// How many times it was started (1 + restarts).
    pub fn starts(&self) -> u32 {
        self.starts
    }

    /// Stop it (abort the task, like SIGKILL) and wait until it is gone.
    pub async fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }

    /// Stop it and start it again with a fresh client, like a pod restart.
    pub async fn restart(&mut self) -> Result<(), EnvError> {
        self.stop().await;
        self.start()
    }

    /// Wait until the operator returns. `Err` if it returned an error,
    /// panicked, or was not running.
    pub async fn wait(&mut self) -> Result<(), EnvError> {
        let Some(t) = self.task.take() else {
            return Err(EnvError::Operator("not running".into()));
        };
        match t.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(EnvError::Operator(format!("returned an error: {e}"))),
            Err(e) if e.is_panic() => {
                Err(EnvError::Operator(format!("panicked: {}", panic_text(e))))
            }
            Err(_) => Err(EnvError::Operator("was cancelled".into())),
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

impl Drop for OperatorHandle {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}
