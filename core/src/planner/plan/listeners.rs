//! Listeners: create, modify (settings and SNI certificates), and their rules.
use super::*;

impl<'a> StackPlanner<'a> {
    pub(super) fn plan_listener_create(
        &mut self,
        l: &ListenerSpec,
        lb: &Ref,
        resolve: &Resolver<'_>,
    ) {
        let key = keys::listener(&self.stack, l.port);
        self.push(
            format!("listener {}", l.port),
            ChangeKind::Create,
            None,
            Op::CreateListener {
                key: key.clone(),
                load_balancer: lb.clone(),
                listener: listener_settings(l, resolve),
                tags: l.tags.clone(),
            },
        );
        if !l.attributes.is_empty() {
            self.push(
                format!("listener {}", l.port),
                ChangeKind::Modify,
                Some("listener attributes".into()),
                Op::ModifyListenerAttributes {
                    listener: Ref::New(key.clone()),
                    attributes: l.attributes.clone(),
                },
            );
        }
        // As LBC: every certificate, the default one included, is also added to the
        // listener's certificate list.
        if l.protocol.is_secure() && !l.certificates.is_empty() {
            self.push(
                format!("listener {}", l.port),
                ChangeKind::Modify,
                Some("SNI certificates".into()),
                Op::AddListenerCertificates {
                    listener: Ref::New(key.clone()),
                    certificates: l.certificates.clone(),
                },
            );
        }
        for r in &l.rules {
            self.push_create_rule(l.port, r, Ref::New(key.clone()), resolve);
        }
    }

    pub(super) fn plan_listener_update(
        &mut self,
        l: &ListenerSpec,
        o: &ObservedListener,
        resolve: &Resolver<'_>,
    ) {
        let resource = format!("listener {}", l.port);
        let settings = listener_settings(l, resolve);
        let secure = l.protocol.is_secure();
        let differs = !o.protocol.eq_ignore_ascii_case(&settings.protocol)
            || (secure && o.ssl_policy != settings.ssl_policy)
            || (secure && o.certificates.first() != settings.default_certificate.as_ref())
            || (settings.alpn_policy.is_some() && o.alpn_policy != settings.alpn_policy)
            || canon::actions(&o.default_actions) != canon::actions(&settings.default_actions)
            || canon::mutual_authentication_drifted(
                settings.mutual_authentication.as_ref(),
                o.mutual_authentication.as_ref(),
            );
        let secret_stale = canon::client_secret_stale(&l.tags, &o.tags);
        if differs || secret_stale {
            self.push(
                resource.clone(),
                ChangeKind::Modify,
                (!differs).then(|| super::rules::SECRET_REASON.to_owned()),
                Op::ModifyListener {
                    arn: o.arn.clone(),
                    listener: settings,
                },
            );
        }
        // Attributes are compared on the keys the listener sets (as LBC's reconciler: a key
        // no longer set keeps its value in AWS).
        let attributes: BTreeMap<String, String> = l
            .attributes
            .iter()
            .filter(|(k, v)| o.attributes.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !attributes.is_empty() {
            let changed: Vec<String> = attributes
                .iter()
                .map(|(k, v)| match o.attributes.get(k) {
                    Some(old) => format!("{k}: {old} -> {v}"),
                    None => format!("{k}: {v}"),
                })
                .collect();
            self.push(
                resource.clone(),
                ChangeKind::Modify,
                Some(format!("listener attributes ({})", changed.join(", "))),
                Op::ModifyListenerAttributes {
                    listener: Ref::Existing(o.arn.clone()),
                    attributes,
                },
            );
        }
        if secure {
            // As LBC: the listener's certificate list holds every certificate, the default
            // one included.
            let want: BTreeSet<&String> = l.certificates.iter().collect();
            let have: BTreeSet<&String> = o.extra_certificates().into_iter().collect();
            let add: Vec<String> = want.difference(&have).map(|s| (*s).clone()).collect();
            let remove: Vec<String> = have.difference(&want).map(|s| (*s).clone()).collect();
            if !add.is_empty() {
                self.push(
                    resource.clone(),
                    ChangeKind::Modify,
                    Some("SNI certificates".into()),
                    Op::AddListenerCertificates {
                        listener: Ref::Existing(o.arn.clone()),
                        certificates: add,
                    },
                );
            }
            if !remove.is_empty() {
                self.push(
                    resource.clone(),
                    ChangeKind::Modify,
                    Some("SNI certificates".into()),
                    Op::RemoveListenerCertificates {
                        listener: o.arn.clone(),
                        certificates: remove,
                    },
                );
            }
        }
        self.plan_elbv2_tags(resource, &o.arn, &l.tags, &o.tags);
        self.plan_rules(l, o, resolve);
    }
}

fn listener_settings(l: &ListenerSpec, resolve: &Resolver<'_>) -> ListenerSettings {
    let secure = l.protocol.is_secure();
    ListenerSettings {
        port: l.port,
        protocol: l.protocol.as_str().to_owned(),
        ssl_policy: if secure { l.ssl_policy.clone() } else { None },
        default_certificate: if secure {
            l.certificates.first().cloned()
        } else {
            None
        },
        default_actions: resolve.actions(&l.default_actions),
        alpn_policy: l.alpn_policy.clone(),
        mutual_authentication: l.mutual_authentication.clone(),
    }
}
