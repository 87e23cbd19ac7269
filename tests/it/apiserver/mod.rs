//! The API server fixture (crate `aws-lb-operator-apiserver` in `tools/apiserver`, whose module
//! documentation says what it serves and what it leaves out), with the helpers tests want:
//! a kube client, typed direct control, and panics instead of errors (a fixture error is a test
//! bug).

mod tests;

#[allow(unused_imports)] // kept for tests that name `crate::apiserver::Call`
pub use aws_lb_operator_apiserver::Call;
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use std::ops::Deref;
use std::time::Duration;

/// A running fixture; dropping it stops the server and ends every open connection.
pub struct ApiServer(aws_lb_operator_apiserver::ApiServer);

impl Deref for ApiServer {
    type Target = aws_lb_operator_apiserver::ApiServer;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl ApiServer {
    pub async fn start() -> Self {
        Self::start_with_history(aws_lb_operator_apiserver::DEFAULT_HISTORY).await
    }

    /// Like [`ApiServer::start`], keeping only the last `history` events for watch resumption.
    pub async fn start_with_history(history: usize) -> Self {
        let server = aws_lb_operator_apiserver::ApiServer::bind("127.0.0.1:0", history)
            .await
            .expect("bind 127.0.0.1:0");
        Self(server)
    }

    /// A kube client for this server, default namespace "default".
    pub fn client(&self) -> kube::Client {
        let mut config = kube::Config::new(self.url().parse().expect("server URL"));
        config.default_namespace = "default".into();
        kube::Client::try_from(config).expect("kube client")
    }

    pub fn shutdown(self) {}

    /// Create or replace an object given with apiVersion, kind and metadata (status included).
    pub fn apply_object(&self, object: Value) -> Value {
        self.0
            .apply_object(object)
            .unwrap_or_else(|e| panic!("apply_object: {}", e.message))
    }

    /// `ns` is ignored for cluster-scoped kinds.
    pub fn get_object(&self, api_version: &str, kind: &str, ns: &str, name: &str) -> Option<Value> {
        self.0
            .get_object(api_version, kind, ns, name)
            .unwrap_or_else(|e| panic!("{}", e.message))
    }

    /// Delete like an HTTP DELETE (finalizers honoured); the object as returned, None if absent.
    pub fn delete_object(
        &self,
        api_version: &str,
        kind: &str,
        ns: &str,
        name: &str,
    ) -> Option<Value> {
        self.0
            .delete_object(api_version, kind, ns, name)
            .unwrap_or_else(|e| panic!("{}", e.message))
    }

    /// Every object of a kind, in every namespace, ordered by namespace and name.
    pub fn list_objects(&self, api_version: &str, kind: &str) -> Vec<Value> {
        self.0
            .list_objects(api_version, kind)
            .unwrap_or_else(|e| panic!("{}", e.message))
    }

    pub fn apply<K: Serialize + DeserializeOwned>(&self, object: &K) -> K {
        typed(self.apply_object(serde_json::to_value(object).expect("serialize")))
    }

    pub fn get<K: Typed>(&self, ns: &str, name: &str) -> Option<K> {
        self.get_object(&K::api_version(&()), &K::kind(&()), ns, name)
            .map(typed)
    }

    pub fn delete<K: Typed>(&self, ns: &str, name: &str) -> Option<K> {
        self.delete_object(&K::api_version(&()), &K::kind(&()), ns, name)
            .map(typed)
    }

    pub fn list<K: Typed>(&self) -> Vec<K> {
        self.list_objects(&K::api_version(&()), &K::kind(&()))
            .into_iter()
            .map(typed)
            .collect()
    }

    /// Wait until `cond` holds (checked after every write and every 20 ms); false on timeout.
    pub async fn wait_for(&self, mut cond: impl FnMut(&Self) -> bool, timeout: Duration) -> bool {
        self.0.wait_until(|| cond(self), timeout).await
    }
}

/// What the typed helpers take: k8s-openapi types and kube-derived custom resources.
pub trait Typed: kube::Resource<DynamicType = ()> + DeserializeOwned {}
impl<K: kube::Resource<DynamicType = ()> + DeserializeOwned> Typed for K {}

fn typed<K: DeserializeOwned>(value: Value) -> K {
    serde_json::from_value(value).expect("stored object matches its Rust type")
}
