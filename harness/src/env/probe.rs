//! `env.get(&obj)`: the current state of one object, as a value to await once
//! or a probe for `eventually` / `consistently`.

use std::fmt::Debug;
use std::future::{Future, IntoFuture};
use std::pin::Pin;

use kube::api::Api;
use kube::Resource;
use serde::de::DeserializeOwned;

/// Reads one named object each time it is asked.
pub struct GetProbe<K> {
    api: Api<K>,
    name: String,
}

impl<K> GetProbe<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    pub(crate) fn new(api: Api<K>, name: String) -> Self {
        GetProbe { api, name }
    }

    /// `kind/name` for messages.
    pub fn describe(&self) -> String {
        format!("{}/{}", K::kind(&()).to_lowercase(), self.name)
    }

    /// One read.
    pub async fn fetch(&self) -> Result<K, kube::Error> {
        self.api.get(&self.name).await
    }

    /// One read; `None` when the object does not exist.
    pub async fn fetch_opt(&self) -> Result<Option<K>, kube::Error> {
        self.api.get_opt(&self.name).await
    }
}

impl<K> IntoFuture for GetProbe<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + 'static,
{
    type Output = Result<K, kube::Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.api.get(&self.name).await })
    }
}

impl<K> crate::wait::Probe for GetProbe<K>
where
    K: Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + Debug
        + serde::Serialize
        + Send
        + Sync,
{
    type Output = K;

    async fn probe(&mut self) -> Result<K, crate::wait::ProbeError> {
        match self.api.get_opt(&self.name).await {
            Ok(Some(obj)) => Ok(obj),
            Ok(None) => Err(crate::wait::ProbeError::Failed(format!(
                "{} not found",
                self.describe()
            ))),
            Err(e) => Err(crate::wait::ProbeError::Failed(format!(
                "reading {}: {e}",
                self.describe()
            ))),
        }
    }
}
