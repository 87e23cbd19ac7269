//! `alb.ingress.kubernetes.io/transforms.<service name>`: request transforms of the rules
//! forwarding to that backend, as JSON, as LBC reads them (a list of `{type,
//! hostHeaderRewriteConfig | urlRewriteConfig: {rewrites: [{regex, replace}]}}`).
use serde::Deserialize;

use super::annotations::{json_reason, Annotations, TRANSFORMS_PREFIX};
use super::error::{invalid_annotation, BuildError};
use crate::model::{RewriteSpec, TransformSpec};

/// What the annotation takes, for error messages.
pub const EXPECTED: &str = "a JSON list of transforms such as [{\"type\":\"url-rewrite\",\"urlRewriteConfig\":{\"rewrites\":[{\"regex\":\"^/api/(.*)$\",\"replace\":\"/$1\"}]}}] (type host-header-rewrite with hostHeaderRewriteConfig, or url-rewrite with urlRewriteConfig)";

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRewrite {
    #[serde(default)]
    regex: String,
    #[serde(default)]
    replace: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawConfig {
    #[serde(default)]
    rewrites: Vec<RawRewrite>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTransform {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    host_header_rewrite_config: Option<RawConfig>,
    #[serde(default)]
    url_rewrite_config: Option<RawConfig>,
}

/// The transforms `transforms.<service>` gives the rules forwarding to `service` (none
/// without the annotation). As LBC's `Transform.Validate`: the type's config must be there
/// with at least one rewrite; an empty regular expression is refused too (AWS would).
pub fn parse(a: &Annotations<'_>, service: &str) -> Result<Vec<TransformSpec>, BuildError> {
    let key = format!("{TRANSFORMS_PREFIX}{service}");
    let Some(raw) = a.raw(&key) else {
        return Ok(Vec::new());
    };
    let err = |detail: String| invalid_annotation(a.object(), &key, raw, detail);
    let list: Vec<RawTransform> =
        serde_json::from_str(raw).map_err(|e| err(format!("{EXPECTED} ({})", json_reason(&e))))?;
    let rewrites = |config: Option<RawConfig>,
                    name: &str|
     -> Result<Vec<RewriteSpec>, BuildError> {
        let config = config.ok_or_else(|| err(format!("{name} for type {}", kind_name(name))))?;
        if config.rewrites.is_empty() {
            return Err(err(format!("{name}.rewrites with at least one rewrite")));
        }
        if config.rewrites.iter().any(|r| r.regex.is_empty()) {
            return Err(err(format!("{name}.rewrites each with a non-empty regex")));
        }
        Ok(config
            .rewrites
            .into_iter()
            .map(|r| RewriteSpec {
                regex: r.regex,
                replace: r.replace,
            })
            .collect())
    };
    list.into_iter()
        .map(|t| match t.kind.as_str() {
            "host-header-rewrite" => Ok(TransformSpec::HostHeaderRewrite {
                rewrites: rewrites(t.host_header_rewrite_config, "hostHeaderRewriteConfig")?,
            }),
            "url-rewrite" => Ok(TransformSpec::UrlRewrite {
                rewrites: rewrites(t.url_rewrite_config, "urlRewriteConfig")?,
            }),
            other => Err(err(format!(
                "transform types \"host-header-rewrite\" or \"url-rewrite\", not {other:?}"
            ))),
        })
        .collect()
}

fn kind_name(config: &str) -> &'static str {
    if config == "hostHeaderRewriteConfig" {
        "host-header-rewrite"
    } else {
        "url-rewrite"
    }
}
