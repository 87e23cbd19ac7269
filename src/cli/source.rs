//! Where `plan` and `diff` read Kubernetes objects: manifests (`-f`, as `kubectl apply -f`
//! takes them) or a live cluster (`--kubeconfig`, `--context`, in-cluster configuration; with
//! `--namespace`/`-A` as kubectl has them). Reading a cluster lists exactly the kinds the
//! translation reads from `run`'s watch caches (TargetGroupBindings, which have their own
//! loop, aside), trimmed the same way ([`crate::trim`]), and writes nothing.
use std::fmt::Debug;
use std::path::PathBuf;

use aws_lb_operator_core::model::ObjectError;
use aws_lb_operator_core::translate::{IngressClassParams, Snapshot};
use k8s_openapi::api::core::v1::{Namespace, Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config, Resource};
use serde::de::DeserializeOwned;

use super::manifests::{self, ManifestError, Manifests};
use crate::controller::gateway::{self, Discovered, Kind as GatewayKind};
use crate::trim;
use aws_lb_operator_core::translate::gateway::GatewayObjects;

/// Where the objects come from: shared by `plan` and `diff` (and any command that translates
/// a cluster's objects).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SourceArgs {
    /// Manifest files or directories, as `kubectl apply -f` takes them: YAML or JSON files,
    /// `kind: List` included; a directory's `.yaml`, `.yml` and `.json` files; `-` for standard
    /// input. Repeatable. Without -f, `plan` and `diff` read the objects from a cluster, and
    /// so does `route` given --kubeconfig, --context, -n or -A (else it reads AWS).
    #[arg(short = 'f', long = "filename")]
    pub files: Vec<PathBuf>,
    /// Also read the subdirectories of -f directories (without it, as in kubectl, they are
    /// skipped with a note).
    #[arg(short = 'R', long, requires = "files")]
    pub recursive: bool,
    /// Read the objects from the cluster of this kubeconfig file (without -f and without this
    /// flag: KUBECONFIG, ~/.kube/config, then the in-cluster configuration).
    #[arg(long, conflicts_with = "files")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long, conflicts_with = "files")]
    pub context: Option<String>,
    /// Read namespaced objects from this namespace only (default: the context's namespace).
    #[arg(short = 'n', long, conflicts_with = "files")]
    pub namespace: Option<String>,
    /// Read namespaced objects from all namespaces (as `run` watches them).
    #[arg(short = 'A', long, conflicts_with_all = ["files", "namespace"])]
    pub all_namespaces: bool,
}

impl SourceArgs {
    /// Whether any flag names where the objects come from (`-f`, `--kubeconfig`, `--context`,
    /// `-n`, `-A`). `plan` and `diff` read the default cluster without one; `route` then reads
    /// AWS instead.
    #[must_use]
    pub fn names_objects(&self) -> bool {
        !self.files.is_empty()
            || self.kubeconfig.is_some()
            || self.context.is_some()
            || self.namespace.is_some()
            || self.all_namespaces
    }
}

/// Why the objects could not be read (exit status 1).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Manifests could not be read.
    #[error(transparent)]
    Manifests(#[from] ManifestError),
    /// No usable cluster configuration.
    #[error("cannot configure the Kubernetes client: {0}")]
    Config(String),
    /// A kind could not be listed.
    #[error("cannot list {what}: {source}")]
    List {
        /// Resource and scope, e.g. `ingresses.networking.k8s.io in all namespaces`.
        what: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
}

impl SourceError {
    /// Notes to print before the error (what was skipped).
    #[must_use]
    pub fn notes(&self) -> &[String] {
        match self {
            Self::Manifests(e) => e.notes(),
            _ => &[],
        }
    }
}

/// Prints `e` (after its notes) on stderr, as every command reports an input it cannot read.
pub fn report(e: &SourceError) {
    for note in e.notes() {
        eprintln!("note: {note}");
    }
    eprintln!("error: {e}");
}

/// Objects listed per request.
const PAGE: u32 = 500;

/// Reads the objects.
///
/// # Errors
/// Manifests that cannot be read, or a cluster that cannot be reached or listed.
pub async fn load(args: &SourceArgs) -> Result<Manifests, SourceError> {
    if !args.files.is_empty() {
        return Ok(manifests::load_manifests(&args.files, args.recursive)?);
    }
    let config = config(args).await?;
    let namespace = if args.all_namespaces {
        None
    } else {
        Some(
            args.namespace
                .clone()
                .unwrap_or_else(|| config.default_namespace.clone()),
        )
    };
    let server = config.cluster_url.to_string();
    let client = Client::try_from(config).map_err(|e| SourceError::Config(e.to_string()))?;
    let mut m = load_cluster(&client, namespace.as_deref()).await?;
    let scope = match &namespace {
        Some(ns) => format!("namespace {ns} only (-A reads all namespaces, as `run` does)"),
        None => "all namespaces".to_owned(),
    };
    m.notes
        .insert(0, format!("read from cluster {server}: {scope}"));
    Ok(m)
}

/// The client configuration for `args`, as kubectl finds it.
async fn config(args: &SourceArgs) -> Result<Config, SourceError> {
    let options = KubeConfigOptions {
        context: args.context.clone(),
        ..KubeConfigOptions::default()
    };
    let err = |e: kube::config::KubeconfigError| SourceError::Config(e.to_string());
    match &args.kubeconfig {
        Some(path) => {
            let kubeconfig = Kubeconfig::read_from(path).map_err(err)?;
            Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(err)
        }
        None if args.context.is_some() => Config::from_kubeconfig(&options).await.map_err(err),
        None => Config::infer()
            .await
            .map_err(|e| SourceError::Config(e.to_string())),
    }
}

/// Lists every page of `api`, each object trimmed with [`trim::strip`] and `trim_kind` as its
/// page arrives (a large cluster's objects are mostly what is dropped).
async fn list_all<K>(
    api: Api<K>,
    what: String,
    trim_kind: fn(&mut K),
) -> Result<Vec<K>, SourceError>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let mut out = Vec::new();
    let mut params = ListParams::default().limit(PAGE);
    loop {
        let page = api
            .list(&params)
            .await
            .map_err(|source| SourceError::List {
                what: what.clone(),
                source,
            })?;
        let next = page.metadata.continue_.clone().filter(|c| !c.is_empty());
        out.extend(page.items.into_iter().map(|mut o| {
            trim::strip(&mut o);
            trim_kind(&mut o);
            o
        }));
        match next {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(out),
        }
    }
}

/// A namespaced kind in `namespace` (`None`: all namespaces), with the scope for messages.
fn scoped<K>(client: &Client, namespace: Option<&str>) -> (Api<K>, String)
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    let plural = K::plural(&K::DynamicType::default()).into_owned();
    let group = K::group(&K::DynamicType::default()).into_owned();
    let resource = if group.is_empty() {
        plural
    } else {
        format!("{plural}.{group}")
    };
    match namespace {
        Some(ns) => (
            Api::namespaced(client.clone(), ns),
            format!("{resource} in namespace {ns}"),
        ),
        None => (
            Api::all(client.clone()),
            format!("{resource} in all namespaces"),
        ),
    }
}

fn cluster_wide<K>(client: &Client) -> (Api<K>, String)
where
    K: Resource<Scope = k8s_openapi::ClusterResourceScope>,
    K::DynamicType: Default,
{
    let plural = K::plural(&K::DynamicType::default()).into_owned();
    let group = K::group(&K::DynamicType::default()).into_owned();
    let resource = if group.is_empty() {
        plural
    } else {
        format!("{plural}.{group}")
    };
    (Api::all(client.clone()), resource)
}

fn no_trim<K>(_: &mut K) {}

/// Reads the kinds the translation reads from the cluster.
///
/// # Errors
/// A kind cannot be listed (IngressClassParams excepted: without the CRD there are none).
pub async fn load_cluster(
    client: &Client,
    namespace: Option<&str>,
) -> Result<Manifests, SourceError> {
    let (ingresses, services, slices) = {
        let (a, w1) = scoped::<Ingress>(client, namespace);
        let (b, w2) = scoped::<Service>(client, namespace);
        let (c, w3) = scoped::<EndpointSlice>(client, namespace);
        futures::try_join!(
            list_all(a, w1, no_trim),
            list_all(b, w2, trim::trim_service),
            list_all(c, w3, trim::trim_slice)
        )?
    };
    let (classes, nodes, namespaces) = {
        let (a, w1) = cluster_wide::<IngressClass>(client);
        let (b, w2) = cluster_wide::<Node>(client);
        let (c, w3) = cluster_wide::<Namespace>(client);
        futures::try_join!(
            list_all(a, w1, no_trim),
            list_all(b, w2, trim::trim_node),
            list_all(c, w3, no_trim)
        )?
    };
    let mut m = Manifests::default();
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("elbv2.k8s.aws", "v1beta1", "IngressClassParams"),
        "ingressclassparams",
    );
    let params_api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    let params = match list_all(
        params_api,
        "ingressclassparams.elbv2.k8s.aws".to_owned(),
        no_trim,
    )
    .await
    {
        Ok(p) => p,
        Err(SourceError::List {
            source: kube::Error::Api(e),
            ..
        }) if e.code == 404 => {
            m.notes.push(
                "IngressClassParams cannot be listed (the elbv2.k8s.aws CRDs are not installed): \
                 going on without them"
                    .to_owned(),
            );
            Vec::new()
        }
        Err(e) => return Err(e),
    };
    let mut ingress_class_params = Vec::new();
    for p in params {
        let name = p.metadata.name.clone().unwrap_or_default();
        let parsed = serde_json::to_value(&p)
            .map_err(|e| e.to_string())
            .and_then(manifests::objects::typed::<IngressClassParams>);
        match parsed {
            Ok(params) => ingress_class_params.push(params),
            Err(message) => m.errors.push(ObjectError {
                object: format!("ingressclassparams {}", manifests::shorten(&name)),
                message: format!(
                    "ingressclassparams {}: {message}; the object is left out, everything else \
                     is still planned",
                    manifests::shorten(&name)
                ),
            }),
        }
    }
    m.gateways = load_gateway_objects(client, namespace, &mut m).await?;
    let secrets = load_oidc_secrets(client, &ingresses, &services, &mut m).await;
    m.snapshot = Snapshot {
        ingresses,
        ingress_classes: classes,
        ingress_class_params,
        services,
        endpoint_slices: slices,
        nodes,
        namespaces,
        secrets,
    };
    Ok(m)
}

/// Reads the Secrets the `auth-idp-oidc` annotations of `ingresses` and `services` name (only
/// those, and only their OIDC keys). One that cannot be read is left out (the translation
/// then reports it as missing) with a note saying why; no value is ever shown.
async fn load_oidc_secrets(
    client: &Client,
    ingresses: &[Ingress],
    services: &[Service],
    m: &mut Manifests,
) -> Vec<aws_lb_operator_core::translate::auth::SecretData> {
    use aws_lb_operator_core::translate::auth;
    let metas = ingresses
        .iter()
        .map(|i| &i.metadata)
        .chain(services.iter().map(|s| &s.metadata));
    let wanted: std::collections::BTreeSet<(String, String)> = metas
        .filter_map(|meta| {
            let name = auth::oidc_secret_name(meta.annotations.as_ref())?;
            Some((
                meta.namespace.clone().unwrap_or_else(|| "default".into()),
                name,
            ))
        })
        .collect();
    let mut out = Vec::new();
    for (ns, name) in wanted {
        let api: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), &ns);
        match api.get_opt(&name).await {
            Ok(Some(secret)) => out.push(auth::SecretData::from_secret(&secret)),
            Ok(None) => {}
            Err(e) => m.notes.push(format!(
                "secret {ns}/{name} cannot be read ({}): the Ingresses that need it are planned as if it were missing",
                crate::cli::source::kube_reason(&e)
            )),
        }
    }
    out
}

/// A kube error in a few words (the API status message, which never holds object data).
fn kube_reason(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => format!("{} {}", s.code, s.reason),
        other => other.to_string(),
    }
}

/// Lists every object of a Gateway API `kind` the cluster serves, as the translation reads it
/// (an object that cannot be read is an error of its own; the others are used).
async fn list_gateway_kind<T: DeserializeOwned>(
    client: &Client,
    namespace: Option<&str>,
    discovered: &Discovered,
    kind: GatewayKind,
    m: &mut Manifests,
) -> Result<Vec<T>, SourceError> {
    let Some(version) = discovered.version(kind) else {
        return Ok(Vec::new());
    };
    let resource = kind.resource(version);
    let what = format!("{}.{}", kind.plural(), kind.group());
    let (api, what): (Api<DynamicObject>, String) = match namespace {
        Some(ns) if kind.namespaced() => (
            Api::namespaced_with(client.clone(), ns, &resource),
            format!("{what} in namespace {ns}"),
        ),
        _ => (Api::all_with(client.clone(), &resource), what),
    };
    let mut out = Vec::new();
    for o in list_all(api, what, no_trim).await? {
        let name = format!(
            "{}/{}",
            o.metadata.namespace.as_deref().unwrap_or_default(),
            o.metadata.name.as_deref().unwrap_or_default()
        );
        let parsed = serde_json::to_value(&o)
            .map_err(|e| e.to_string())
            .and_then(|v| serde_json::from_value::<T>(v).map_err(|e| e.to_string()));
        match parsed {
            Ok(t) => out.push(t),
            Err(message) => {
                let object = format!("{} {name}", kind.as_str().to_ascii_lowercase());
                m.errors.push(ObjectError {
                    message: format!(
                        "{object}: {message}; the object is left out, everything else is still planned"
                    ),
                    object,
                });
            }
        }
    }
    Ok(out)
}

/// The Gateway API objects of the kinds the cluster serves (none without the CRDs, silently:
/// a cluster without the Gateway API plans as it did before).
async fn load_gateway_objects(
    client: &Client,
    namespace: Option<&str>,
    m: &mut Manifests,
) -> Result<GatewayObjects, SourceError> {
    let discovered = gateway::discover(client).await;
    if discovered.is_empty() {
        return Ok(GatewayObjects::default());
    }
    let d = &discovered;
    Ok(GatewayObjects {
        classes: list_gateway_kind(client, namespace, d, GatewayKind::GatewayClass, m).await?,
        gateways: list_gateway_kind(client, namespace, d, GatewayKind::Gateway, m).await?,
        http_routes: list_gateway_kind(client, namespace, d, GatewayKind::HttpRoute, m).await?,
        grpc_routes: list_gateway_kind(client, namespace, d, GatewayKind::GrpcRoute, m).await?,
        tcp_routes: list_gateway_kind(client, namespace, d, GatewayKind::TcpRoute, m).await?,
        udp_routes: list_gateway_kind(client, namespace, d, GatewayKind::UdpRoute, m).await?,
        tls_routes: list_gateway_kind(client, namespace, d, GatewayKind::TlsRoute, m).await?,
        reference_grants: list_gateway_kind(client, namespace, d, GatewayKind::ReferenceGrant, m)
            .await?,
        load_balancer_configurations: list_gateway_kind(
            client,
            namespace,
            d,
            GatewayKind::LoadBalancerConfiguration,
            m,
        )
        .await?,
        listener_sets: list_gateway_kind(client, namespace, d, GatewayKind::ListenerSet, m).await?,
    })
}
