//! Import of a Kubernetes Service with its EndpointSlices (or legacy Endpoints) from YAML, as
//! `kubectl get service,endpointslice -o yaml` or a manifest file writes them (several
//! documents separated by `---`, or a `kind: List` with `items`).
//!
//! The balancer is kube-proxy in iptables mode ([`KubeProxyConf`]). Which endpoints it
//! balances over follows kubernetes pkg/proxy: an EndpointSlice condition left out counts as
//! `ready: true`, `serving: true`, `terminating: false` (endpointslicecache.go,
//! `newEndpointSliceInfo`); only the first address of an endpoint is used; the Service port's
//! endpoints are the ones whose slice port has the same `name`; the cluster endpoints are the
//! ready ones, or, when none is ready, the serving-and-terminating ones (topology.go,
//! `CategorizeEndpoints`). Legacy `Endpoints` are read as the EndpointSlice mirroring
//! controller would mirror them: `addresses` ready, `notReadyAddresses` not ready.
//!
//! What changes routing but is not modelled is refused at its line: `externalTrafficPolicy:
//! Local`, `internalTrafficPolicy: Local`, `trafficDistribution`, topology annotations,
//! headless and ExternalName Services, UDP/SCTP ports, FQDN slices. Checked against the
//! source; no cluster runs here.

use super::yaml::{self, Node};
use super::{ConfigError, Imported, Note, choose};
use crate::balancer::kube_proxy::{DEFAULT_AFFINITY_TIMEOUT, DEFAULT_RECENT_LIST_SIZE, KubeProxyConf};
use crate::balancer::{BalancerConf, CheckConf, FailurePolicy, HaproxyRetries, MAX_SERVERS, Method, ServerConf};
use crate::engine::SimTime;

/// Whether `text` looks like Kubernetes objects (an `apiVersion:` and a `kind:` line at the
/// start of a line).
pub fn looks_like_k8s(text: &str) -> bool {
    let mut api = false;
    let mut kind = false;
    for l in text.lines() {
        let l = l.trim_start_matches("- ");
        api |= l.starts_with("apiVersion:");
        kind |= l.starts_with("kind:");
    }
    api && kind
}

/// One endpoint as kube-proxy keeps it.
#[derive(Clone, Debug)]
struct Endpoint {
    addr: String,
    ready: bool,
    serving: bool,
    terminating: bool,
    line: usize,
}

/// The Service (and endpoints) named `wanted`, or the only Service in `text`.
pub fn import(text: &str, wanted: Option<&str>) -> Result<Imported, ConfigError> {
    let docs = yaml::load(text)?;
    let mut objects: Vec<&Node> = Vec::new();
    for d in &docs {
        if d.get_str("kind")? == Some("List") {
            for item in d.get("items").map(|n| n.seq("items")).transpose()?.unwrap_or(&[]) {
                objects.push(item);
            }
        } else {
            objects.push(d);
        }
    }
    let mut notes = Vec::new();
    let mut services: Vec<(String, &Node)> = Vec::new();
    for o in &objects {
        let kind = o.get_str("kind")?.unwrap_or("");
        match kind {
            "Service" => services.push((name_of(o)?, o)),
            "EndpointSlice" | "Endpoints" => {}
            "" => {
                return Err(ConfigError::new(
                    o.line,
                    "a document without `kind:`; is this a Kubernetes object?",
                ));
            }
            "Ingress" => notes.push(Note {
                file: None,
                line: o.line,
                message: "Ingress ignored: this import balances as kube-proxy does for the Service; ingress-nginx's \
                          cookie affinity is read (k8s::ingress_nginx) but not simulated yet"
                    .into(),
            }),
            other => notes.push(Note {
                file: None,
                line: o.line,
                message: format!("{other} ignored: it does not route requests"),
            }),
        }
    }
    if services.is_empty()
        && let Some(ing) = objects
            .iter()
            .find(|o| matches!(o.get_str("kind"), Ok(Some("Ingress"))))
    {
        // The annotations are checked, so a wrong one is still reported at its line.
        ingress_nginx(text, None)?;
        return Err(ConfigError::new(
            ing.line,
            "an Ingress but no Service: ingress-nginx's cookie affinity is read but not simulated yet; \
             import the Service with its EndpointSlice (kube-proxy) instead",
        ));
    }
    let (name, svc) = choose("Service", &services, wanted)?;
    let (affinity, port_name, port_line) = service_spec(svc, &mut notes)?;
    let eps = endpoints_of(&objects, name, &port_name, port_line, &mut notes)?;
    // topology.go: the ready endpoints; none ready: the serving and terminating ones.
    let ready: Vec<&Endpoint> = eps.iter().filter(|e| e.ready).collect();
    let used: Vec<&Endpoint> = if ready.is_empty() {
        eps.iter().filter(|e| e.serving && e.terminating).collect()
    } else {
        ready
    };
    for e in &eps {
        if !used.iter().any(|u| u.addr == e.addr) {
            notes.push(Note {
                file: None,
                line: e.line,
                message: format!(
                    "endpoint {} left out: kube-proxy does not send to it (ready {}, serving {}, terminating {})",
                    e.addr, e.ready, e.serving, e.terminating
                ),
            });
        }
    }
    if used.is_empty() {
        return Err(ConfigError::new(
            svc.line,
            format!(
                "Service `{name}` has no usable endpoint for port `{port_name}`: none is ready (nor serving and \
                 terminating), so kube-proxy rejects every connection; add its EndpointSlice with ready endpoints"
            ),
        ));
    }
    if used.len() > MAX_SERVERS {
        return Err(ConfigError::new(
            svc.line,
            format!("{} endpoints; sessim models at most {MAX_SERVERS}", used.len()),
        ));
    }
    // A pod's readiness as kube-proxy learns it (scenario default for kube_proxy: the kubelet
    // reports a stopped container at once, one probe period of a second, one failure).
    let check = CheckConf {
        inter: SimTime::from_secs(1),
        fastinter: SimTime::from_secs(1),
        downinter: SimTime::from_secs(1),
        rise: 1,
        fall: 1,
    };
    let servers = used
        .iter()
        .map(|e| {
            let mut s = ServerConf::new(e.addr.clone(), e.addr.clone());
            s.check = Some(check);
            s
        })
        .collect();
    Ok(Imported {
        name: name.clone(),
        conf: BalancerConf {
            method: Method::new(KubeProxyConf {
                affinity,
                recent_list_size: DEFAULT_RECENT_LIST_SIZE,
            }),
            servers,
            cookie: None,
            // kube-proxy does not retry: a refused connection reaches the client.
            failure: FailurePolicy::Haproxy(HaproxyRetries {
                retries: 0,
                redispatch: None,
                connect_timeout: SimTime::ZERO,
            }),
        },
        notes,
    })
}

fn name_of(o: &Node) -> Result<String, ConfigError> {
    let meta = o
        .get("metadata")
        .ok_or_else(|| ConfigError::new(o.line, "the object has no `metadata.name`"))?;
    meta.get_str("name")?
        .map(str::to_string)
        .ok_or_else(|| ConfigError::new(meta.line, "the object has no `metadata.name`"))
}

fn refuse(line: usize, field: &str, why: &str) -> ConfigError {
    ConfigError::new(
        line,
        format!("`{field}` is not modelled: {why}; remove it to import the Service"),
    )
}

/// The Service's affinity and the name (and line) of the port balanced.
fn service_spec(svc: &Node, notes: &mut Vec<Note>) -> Result<(Option<SimTime>, String, usize), ConfigError> {
    if let Some(meta) = svc.get("metadata")
        && let Some(ann) = meta.get("annotations")
    {
        for (k, line, v) in ann.map("metadata.annotations")? {
            let topo = k == "service.kubernetes.io/topology-mode" || k == "service.kubernetes.io/topology-aware-hints";
            if topo && !matches!(v.str(k)?, "Disabled" | "disabled" | "") {
                return Err(refuse(
                    *line,
                    k,
                    "topology-aware routing keeps traffic in the client's zone (zones are not modelled)",
                ));
            }
        }
    }
    let spec = svc
        .get("spec")
        .ok_or_else(|| ConfigError::new(svc.line, "the Service has no `spec`"))?;
    let mut affinity_kind: Option<(&str, usize)> = None;
    let mut timeout: Option<(u64, usize)> = None;
    let mut ports: Option<&Node> = None;
    for (k, line, v) in spec.map("spec")? {
        let line = *line;
        match k.as_str() {
            "type" => match v.str("spec.type")? {
                "ClusterIP" | "NodePort" | "LoadBalancer" => {}
                "ExternalName" => {
                    return Err(refuse(
                        line,
                        "spec.type: ExternalName",
                        "the Service is a DNS CNAME; kube-proxy does not balance it",
                    ));
                }
                t => {
                    return Err(ConfigError::new(
                        line,
                        format!("`spec.type: {t}` is not a Service type (ClusterIP, NodePort, LoadBalancer)"),
                    ));
                }
            },
            "clusterIP" if v.str("spec.clusterIP")? == "None" => {
                return Err(refuse(
                    line,
                    "spec.clusterIP: None",
                    "a headless Service has no virtual IP; clients pick a pod from DNS",
                ));
            }
            "externalTrafficPolicy" | "internalTrafficPolicy" => match v.str(k)? {
                "Cluster" => {}
                "Local" => {
                    return Err(refuse(
                        line,
                        &format!("spec.{k}: Local"),
                        "it keeps traffic on the receiving node's own pods (nodes are not modelled)",
                    ));
                }
                t => {
                    return Err(ConfigError::new(
                        line,
                        format!("`spec.{k}: {t}`: the values are Cluster and Local"),
                    ));
                }
            },
            "trafficDistribution" => {
                return Err(refuse(
                    line,
                    "spec.trafficDistribution",
                    "it prefers endpoints in the client's zone or node (topology is not modelled)",
                ));
            }
            "sessionAffinity" => affinity_kind = Some((v.str("spec.sessionAffinity")?, line)),
            "sessionAffinityConfig" => {
                let cip = v.get("clientIP");
                if let Some(t) = cip.map(|c| c.get_u64("timeoutSeconds")).transpose()?.flatten() {
                    timeout = Some((t, cip.and_then(|c| c.get("timeoutSeconds")).map_or(line, |n| n.line)));
                }
            }
            "ports" => ports = Some(v),
            "publishNotReadyAddresses" => notes.push(Note {
                file: None,
                line,
                message: "publishNotReadyAddresses read from the EndpointSlices' conditions as written".into(),
            }),
            "selector"
            | "clusterIP"
            | "clusterIPs"
            | "ipFamilies"
            | "ipFamilyPolicy"
            | "externalIPs"
            | "loadBalancerIP"
            | "loadBalancerSourceRanges"
            | "loadBalancerClass"
            | "healthCheckNodePort"
            | "allocateLoadBalancerNodePorts"
            | "externalName" => {}
            other => {
                return Err(ConfigError::new(
                    line,
                    format!("`spec.{other}` is not a Service field sessim knows; remove it (or check its spelling)"),
                ));
            }
        }
    }
    let affinity = match affinity_kind {
        None | Some(("None", _)) => {
            if let Some((_, line)) = timeout {
                notes.push(Note {
                    file: None,
                    line,
                    message: "sessionAffinityConfig ignored: sessionAffinity is None".into(),
                });
            }
            None
        }
        Some(("ClientIP", _)) => {
            let secs = timeout.map_or(DEFAULT_AFFINITY_TIMEOUT.as_nanos() / 1_000_000_000, |(t, _)| t);
            if !(1..=86400).contains(&secs) {
                let line = timeout.map_or(spec.line, |(_, l)| l);
                return Err(ConfigError::new(
                    line,
                    format!("`timeoutSeconds: {secs}` must be within 1..=86400 (Kubernetes API validation)"),
                ));
            }
            Some(SimTime::from_secs(secs))
        }
        Some((other, line)) => {
            return Err(ConfigError::new(
                line,
                format!("`spec.sessionAffinity: {other}`: the values are None and ClientIP"),
            ));
        }
    };
    let ports = ports.map(|p| p.seq("spec.ports")).transpose()?.unwrap_or(&[]);
    let Some(first) = ports.first() else {
        return Err(ConfigError::new(spec.line, "the Service has no `spec.ports`"));
    };
    for p in ports {
        if let Some(proto) = p.get_str("protocol")?
            && proto != "TCP"
        {
            let line = p.get("protocol").map_or(p.line, |n| n.line);
            return Err(refuse(
                line,
                &format!("protocol: {proto}"),
                "sessim models HTTP over TCP",
            ));
        }
    }
    let port_name = first.get_str("name")?.unwrap_or("").to_string();
    for p in ports.iter().skip(1) {
        notes.push(Note {
            file: None,
            line: p.line,
            message: format!(
                "port `{}` ignored: sessim balances the Service's first port (`{port_name}`)",
                p.get_str("name")?.unwrap_or("")
            ),
        });
    }
    Ok((affinity, port_name, first.line))
}

/// Condition `key` of an EndpointSlice endpoint, or `default` when left out.
fn condition(c: Option<&Node>, key: &str, default: bool) -> Result<bool, ConfigError> {
    Ok(c.map(|c| c.get_bool(key)).transpose()?.flatten().unwrap_or(default))
}

/// The endpoints of the Service's port, from its EndpointSlices, else its Endpoints.
fn endpoints_of(
    objects: &[&Node],
    service: &str,
    port_name: &str,
    port_line: usize,
    notes: &mut Vec<Note>,
) -> Result<Vec<Endpoint>, ConfigError> {
    let mut eps: Vec<Endpoint> = Vec::new();
    let mut slices = 0;
    let mut push = |e: Endpoint, notes: &mut Vec<Note>| {
        if eps.iter().any(|o| o.addr == e.addr) {
            notes.push(Note {
                file: None,
                line: e.line,
                message: format!("endpoint {} listed twice; kube-proxy keeps one", e.addr),
            });
        } else {
            eps.push(e);
        }
    };
    for o in objects
        .iter()
        .filter(|o| matches!(o.get_str("kind"), Ok(Some("EndpointSlice"))))
    {
        let owner = o
            .get("metadata")
            .and_then(|m| m.get("labels"))
            .map(|l| l.get_str("kubernetes.io/service-name"))
            .transpose()?
            .flatten();
        if owner != Some(service) {
            continue;
        }
        slices += 1;
        let at = o.get("addressType");
        match at.map(|n| n.str("addressType")).transpose()? {
            Some("IPv4" | "IPv6") => {}
            Some("FQDN") => {
                return Err(refuse(
                    at.map_or(o.line, |n| n.line),
                    "addressType: FQDN",
                    "kube-proxy ignores FQDN EndpointSlices",
                ));
            }
            _ => {
                return Err(ConfigError::new(
                    at.map_or(o.line, |n| n.line),
                    "an EndpointSlice needs `addressType: IPv4` or `IPv6`",
                ));
            }
        }
        let ports = o.get("ports").map(|p| p.seq("ports")).transpose()?.unwrap_or(&[]);
        let mut port = None;
        for p in ports {
            if p.get_str("name")?.unwrap_or("") == port_name {
                port = p.get_u64("port")?;
            }
        }
        let Some(port) = port else {
            notes.push(Note {
                file: None,
                line: o.line,
                message: format!("EndpointSlice has no port named `{port_name}` (the Service port at line {port_line}); its endpoints serve other ports"),
            });
            continue;
        };
        for e in o
            .get("endpoints")
            .map(|n| n.seq("endpoints"))
            .transpose()?
            .unwrap_or(&[])
        {
            if let Some(h) = e.get("hints") {
                notes.push(Note {
                    file: None,
                    line: h.line,
                    message: "topology hints ignored: the Service does not ask for topology-aware routing".into(),
                });
            }
            let addrs = e
                .get("addresses")
                .map(|n| n.seq("addresses"))
                .transpose()?
                .unwrap_or(&[]);
            // endpointslicecache.go: only the first address is used.
            let Some(a) = addrs.first() else {
                return Err(ConfigError::new(
                    e.line,
                    "an endpoint needs at least one address in `addresses`",
                ));
            };
            let c = e.get("conditions");
            let ready = condition(c, "ready", true)?;
            push(
                Endpoint {
                    addr: join(a.str("addresses")?, port),
                    ready,
                    serving: condition(c, "serving", true)?,
                    terminating: condition(c, "terminating", false)?,
                    line: a.line,
                },
                notes,
            );
        }
    }
    for o in objects
        .iter()
        .filter(|o| matches!(o.get_str("kind"), Ok(Some("Endpoints"))))
    {
        if name_of(o)? != service {
            continue;
        }
        if slices > 0 {
            notes.push(Note {
                file: None,
                line: o.line,
                message: "Endpoints ignored: kube-proxy reads the EndpointSlices".into(),
            });
            continue;
        }
        for s in o.get("subsets").map(|n| n.seq("subsets")).transpose()?.unwrap_or(&[]) {
            let ports = s.get("ports").map(|p| p.seq("ports")).transpose()?.unwrap_or(&[]);
            let mut port = None;
            for p in ports {
                if p.get_str("name")?.unwrap_or("") == port_name {
                    port = p.get_u64("port")?;
                }
            }
            let Some(port) = port else { continue };
            for (key, ready) in [("addresses", true), ("notReadyAddresses", false)] {
                for a in s.get(key).map(|n| n.seq(key)).transpose()?.unwrap_or(&[]) {
                    let ip = a
                        .get_str("ip")?
                        .ok_or_else(|| ConfigError::new(a.line, "an address needs `ip`"))?;
                    push(
                        Endpoint {
                            addr: join(ip, port),
                            ready,
                            serving: ready,
                            terminating: false,
                            line: a.line,
                        },
                        notes,
                    );
                }
            }
        }
    }
    Ok(eps)
}

fn join(ip: &str, port: u64) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SVC: &str = "\
apiVersion: v1
kind: Service
metadata:
  name: shop
  namespace: default
spec:
  type: ClusterIP
  selector:
    app: shop
  ports:
    - name: http
      port: 80
      targetPort: 8080
  sessionAffinity: ClientIP
  sessionAffinityConfig:
    clientIP:
      timeoutSeconds: 600
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: shop-abc12
  labels:
    kubernetes.io/service-name: shop
addressType: IPv4
ports:
  - name: http
    port: 8080
    protocol: TCP
endpoints:
  - addresses: [\"10.1.0.11\"]
    conditions: {ready: true, serving: true, terminating: false}
  - addresses: [\"10.1.0.12\"]
    conditions: {ready: true}
  - addresses: [\"10.1.0.13\"]
    conditions: {ready: false, serving: true, terminating: true}
  - addresses: [\"10.1.0.14\"]
";

    fn names(i: &Imported) -> Vec<&str> {
        i.conf.servers.iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn service_with_slice_imports_ready_endpoints_and_timeout() {
        let i = import(SVC, None).map_err(|e| e.to_string());
        let Ok(i) = i else { panic!("{i:?}") };
        assert_eq!(i.name, "shop");
        // .13 is terminating and not ready: left out while others are ready (topology.go);
        // .14 has no conditions: ready (endpointslicecache.go, nil = ready).
        assert_eq!(names(&i), ["10.1.0.11:8080", "10.1.0.12:8080", "10.1.0.14:8080"]);
        assert_eq!(
            i.conf.method,
            Method::new(KubeProxyConf {
                affinity: Some(SimTime::from_secs(600)),
                recent_list_size: DEFAULT_RECENT_LIST_SIZE
            })
        );
        assert!(
            i.notes.iter().any(|n| n.line == 35 && n.message.contains("10.1.0.13")),
            "{:?}",
            i.notes
        );
    }

    #[test]
    fn default_timeout_is_10800_and_terminating_fallback_applies() {
        // No timeoutSeconds: the API default 10800 (core/v1 DefaultClientIPServiceAffinitySeconds).
        let text = SVC
            .replace(
                "  sessionAffinityConfig:\n    clientIP:\n      timeoutSeconds: 600\n",
                "",
            )
            .replace(
                "conditions: {ready: true, serving: true, terminating: false}",
                "conditions: {ready: false}",
            )
            .replace(
                "conditions: {ready: true}",
                "conditions: {ready: false, serving: false}",
            )
            .replace("  - addresses: [\"10.1.0.14\"]\n", "");
        let i = import(&text, None).map_err(|e| e.to_string());
        let Ok(i) = i else { panic!("{i:?}") };
        assert!(
            matches!(i.conf.method.downcast_ref::<KubeProxyConf>(), Some(KubeProxyConf { affinity: Some(t), .. }) if *t == SimTime::from_secs(10800))
        );
        // No ready endpoint: the serving-and-terminating one (.13) is used (topology.go).
        assert_eq!(names(&i), ["10.1.0.13:8080"]);
    }

    #[test]
    fn legacy_endpoints_and_lists_are_read() {
        let text = "\
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Service
    metadata: {name: web}
    spec:
      ports: [{port: 80}]
  - apiVersion: v1
    kind: Endpoints
    metadata: {name: web}
    subsets:
      - addresses: [{ip: 10.0.0.1}, {ip: 10.0.0.2}]
        notReadyAddresses: [{ip: 10.0.0.3}]
        ports: [{port: 8080}]
";
        let i = import(text, None).map_err(|e| e.to_string());
        let Ok(i) = i else { panic!("{i:?}") };
        assert_eq!(names(&i), ["10.0.0.1:8080", "10.0.0.2:8080"]);
        assert!(matches!(
            i.conf.method.downcast_ref::<KubeProxyConf>(),
            Some(KubeProxyConf { affinity: None, .. })
        ));
    }

    fn error(text: &str) -> String {
        import(text, None).err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn unmodelled_fields_are_refused_at_their_line() {
        let t = SVC.replace(
            "  type: ClusterIP\n",
            "  type: NodePort\n  externalTrafficPolicy: Local\n",
        );
        assert!(
            error(&t).starts_with("line 8: `spec.externalTrafficPolicy: Local` is not modelled"),
            "{}",
            error(&t)
        );
        let t = SVC.replace("  type: ClusterIP\n", "  internalTrafficPolicy: Local\n");
        assert!(
            error(&t).starts_with("line 7: `spec.internalTrafficPolicy: Local`"),
            "{}",
            error(&t)
        );
        let t = SVC.replace("  type: ClusterIP\n", "  trafficDistribution: PreferClose\n");
        assert!(
            error(&t).starts_with("line 7: `spec.trafficDistribution`"),
            "{}",
            error(&t)
        );
        let t = SVC.replace(
            "  namespace: default\n",
            "  annotations:\n    service.kubernetes.io/topology-mode: Auto\n",
        );
        assert!(
            error(&t).starts_with("line 6: `service.kubernetes.io/topology-mode`"),
            "{}",
            error(&t)
        );
        let t = SVC.replace("  type: ClusterIP\n", "  clusterIP: None\n");
        assert!(error(&t).starts_with("line 7: `spec.clusterIP: None`"), "{}", error(&t));
        let t = SVC.replace("timeoutSeconds: 600", "timeoutSeconds: 90000");
        assert!(
            error(&t).starts_with("line 17: `timeoutSeconds: 90000` must be within 1..=86400"),
            "{}",
            error(&t)
        );
        let t = SVC.replace("sessionAffinity: ClientIP", "sessionAffinity: Cookie");
        assert!(
            error(&t).starts_with("line 14: `spec.sessionAffinity: Cookie`"),
            "{}",
            error(&t)
        );
        let t = SVC.replace("addressType: IPv4", "addressType: FQDN");
        assert!(error(&t).starts_with("line 25: `addressType: FQDN`"), "{}", error(&t));
        let t = SVC.replace("  selector:\n", "  selektor:\n");
        assert!(
            error(&t).starts_with("line 8: `spec.selektor` is not a Service field"),
            "{}",
            error(&t)
        );
    }

    #[test]
    fn missing_endpoints_and_bad_yaml_are_errors() {
        let svc_only = SVC.split("---").next().unwrap_or("");
        assert!(
            error(svc_only).starts_with("line 1: Service `shop` has no usable endpoint for port `http`"),
            "{}",
            error(svc_only)
        );
        // The parser reports the end of the input, where the flow sequence should have closed.
        let bad = error("kind: Service\nmetadata: {name: a}\nspec: [\n");
        assert!(bad.contains(": not valid YAML"), "{bad}");
        assert_eq!(
            error("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"),
            "line 0: the file has no Service"
        );
        let two = format!(
            "{SVC}---\napiVersion: v1\nkind: Service\nmetadata: {{name: other}}\nspec: {{ports: [{{port: 1}}]}}\n"
        );
        assert!(
            error(&two).contains("the file has 2 Services (shop, other); name the one to use"),
            "{}",
            error(&two)
        );
        assert!(import(&two, Some("shop")).is_ok());
    }

    #[test]
    fn mangled_manifests_never_panic() {
        for t in super::super::mangled(&SVC[..400.min(SVC.len())]) {
            let _ = import(&t, None);
        }
    }
}

/// How an Ingress's backend is balanced by ingress-nginx (balancer.lua `get_implementation`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IngressBalancing {
    /// `affinity: cookie` with its `affinity-mode`.
    Sticky(crate::balancer::ingress_nginx::AffinityMode),
    /// `upstream-hash-by` (resty.chash on the key).
    Chash(crate::balancer::HashKey),
    /// `load-balance: round_robin` (the default).
    RoundRobin,
}

/// The ingress-nginx annotations of one Ingress that change routing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngressNginx {
    /// The Ingress's name.
    pub name: String,
    /// The balancer.
    pub balancing: IngressBalancing,
    /// `session-cookie-name` (default INGRESSCOOKIE).
    pub cookie_name: String,
    /// `session-cookie-max-age` \[s\].
    pub max_age: Option<u64>,
    /// `session-cookie-expires` \[s\].
    pub expires: Option<u64>,
    /// `session-cookie-change-on-failure` (default false).
    pub change_on_failure: bool,
}

/// Reads the ingress-nginx annotations of the Ingress named `wanted` (or the only one).
/// Annotations that only shape the cookie (path, samesite, secure, domain) become notes;
/// ones that change routing and are not modelled (canary, `upstream-hash-by-subset`, `ewma`)
/// are refused at their line.
pub fn ingress_nginx(text: &str, wanted: Option<&str>) -> Result<(IngressNginx, Vec<Note>), ConfigError> {
    use crate::balancer::HashKey;
    use crate::balancer::ingress_nginx::{AffinityMode, DEFAULT_COOKIE_NAME};
    const P: &str = "nginx.ingress.kubernetes.io/";
    let docs = yaml::load(text)?;
    let mut found = Vec::new();
    for d in &docs {
        if d.get_str("kind")? == Some("Ingress") {
            found.push((name_of(d)?, d));
        }
    }
    let (name, ing) = choose("Ingress", &found, wanted)?;
    let mut notes = Vec::new();
    let mut affinity = None;
    let mut mode = AffinityMode::Balanced;
    let mut hash_by = None;
    let mut conf = IngressNginx {
        name: name.clone(),
        balancing: IngressBalancing::RoundRobin,
        cookie_name: DEFAULT_COOKIE_NAME.to_string(),
        max_age: None,
        expires: None,
        change_on_failure: false,
    };
    let ann = ing.get("metadata").and_then(|m| m.get("annotations"));
    let entries = ann.map(|a| a.map("metadata.annotations")).transpose()?.unwrap_or(&[]);
    for (k, line, v) in entries {
        let line = *line;
        let Some(short) = k.strip_prefix(P) else { continue };
        let val = v.str(k)?;
        let secs = |val: &str| {
            val.parse::<u64>()
                .map_err(|_| ConfigError::new(line, format!("`{k}` is a number of seconds, got `{val}`")))
        };
        match short {
            "affinity" if val == "cookie" => affinity = Some(line),
            "affinity" => {
                return Err(ConfigError::new(
                    line,
                    format!("`{k}: {val}`: ingress-nginx knows only `cookie`"),
                ));
            }
            "affinity-mode" => {
                mode = match val {
                    "balanced" => AffinityMode::Balanced,
                    "persistent" => AffinityMode::Persistent,
                    _ => {
                        return Err(ConfigError::new(
                            line,
                            format!("`{k}: {val}`: the modes are balanced and persistent"),
                        ));
                    }
                }
            }
            "session-cookie-name" => conf.cookie_name = val.to_string(),
            "session-cookie-max-age" => conf.max_age = Some(secs(val)?),
            "session-cookie-expires" => conf.expires = Some(secs(val)?),
            "session-cookie-change-on-failure" => conf.change_on_failure = val == "true",
            "session-cookie-path"
            | "session-cookie-samesite"
            | "session-cookie-secure"
            | "session-cookie-domain"
            | "session-cookie-conditional-samesite-none" => notes.push(Note {
                file: None,
                line,
                message: format!("{short} ignored: it shapes the cookie, not the choice of endpoint"),
            }),
            "upstream-hash-by" => {
                hash_by = Some(match val {
                    "$remote_addr" => HashKey::RemoteAddr,
                    "$request_uri" => HashKey::RequestUri,
                    c if c.starts_with("$cookie_") && c.len() > 8 => HashKey::Cookie(c[8..].to_string()),
                    _ => {
                        return Err(refuse(
                            line,
                            &format!("{k}: {val}"),
                            "sessim hashes $remote_addr, $request_uri or one $cookie_NAME",
                        ));
                    }
                })
            }
            "load-balance" => match val {
                "round_robin" => {}
                "ewma" => {
                    return Err(refuse(
                        line,
                        &format!("{k}: ewma"),
                        "EWMA latency balancing is not modelled",
                    ));
                }
                // balancer.lua get_implementation: an unknown name falls back to round_robin.
                other => notes.push(Note {
                    file: None,
                    line,
                    message: format!("load-balance `{other}` is not an ingress-nginx balancer; it uses round_robin"),
                }),
            },
            s if s.starts_with("canary") || s == "upstream-hash-by-subset" || s == "upstream-hash-by-subset-size" => {
                return Err(refuse(line, k, "canary and subset balancing are not modelled"));
            }
            _ => {}
        }
    }
    // balancer.lua get_implementation: cookie affinity first, then upstream-hash-by.
    conf.balancing = match (affinity, hash_by) {
        (Some(_), _) => IngressBalancing::Sticky(mode),
        (None, Some(k)) => IngressBalancing::Chash(k),
        (None, None) => IngressBalancing::RoundRobin,
    };
    Ok((conf, notes))
}

#[cfg(test)]
mod ingress_tests {
    use super::*;
    use crate::balancer::HashKey;
    use crate::balancer::ingress_nginx::AffinityMode;

    const ING: &str = "\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
  annotations:
    nginx.ingress.kubernetes.io/affinity: cookie
    nginx.ingress.kubernetes.io/affinity-mode: persistent
    nginx.ingress.kubernetes.io/session-cookie-max-age: \"172800\"
    nginx.ingress.kubernetes.io/session-cookie-change-on-failure: \"true\"
    nginx.ingress.kubernetes.io/session-cookie-path: /
spec:
  ingressClassName: nginx
  rules:
    - http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: shop, port: {number: 80}}}}
";

    #[test]
    fn cookie_affinity_annotations_and_their_defaults() {
        let r = ingress_nginx(ING, None).map_err(|e| e.to_string());
        let Ok((c, notes)) = r else { panic!("{r:?}") };
        assert_eq!(c.balancing, IngressBalancing::Sticky(AffinityMode::Persistent));
        // No session-cookie-name: ingress-nginx's default INGRESSCOOKIE.
        assert_eq!(c.cookie_name, "INGRESSCOOKIE");
        assert_eq!((c.max_age, c.expires, c.change_on_failure), (Some(172_800), None, true));
        assert_eq!(notes.first().map(|n| n.line), Some(10));
        // No affinity-mode: balanced (balancer.lua get_implementation).
        let t = ING.replace("    nginx.ingress.kubernetes.io/affinity-mode: persistent\n", "");
        assert!(matches!(
            ingress_nginx(&t, None),
            Ok((
                IngressNginx {
                    balancing: IngressBalancing::Sticky(AffinityMode::Balanced),
                    ..
                },
                _
            ))
        ));
        // Cookie affinity wins over upstream-hash-by; without it, the hash is used.
        let t = ING.replace("affinity-mode: persistent", "upstream-hash-by: \"$request_uri\"");
        assert!(matches!(
            ingress_nginx(&t, None),
            Ok((
                IngressNginx {
                    balancing: IngressBalancing::Sticky(_),
                    ..
                },
                _
            ))
        ));
        let t = t.replace("    nginx.ingress.kubernetes.io/affinity: cookie\n", "");
        assert!(matches!(
            ingress_nginx(&t, None),
            Ok((
                IngressNginx {
                    balancing: IngressBalancing::Chash(HashKey::RequestUri),
                    ..
                },
                _
            ))
        ));
    }

    #[test]
    fn unmodelled_ingress_annotations_are_refused_at_their_line() {
        let err = |t: &str| ingress_nginx(t, None).err().map(|e| e.to_string()).unwrap_or_default();
        let t = ING.replace("affinity-mode: persistent", "load-balance: ewma");
        assert!(
            err(&t).starts_with("line 7: `nginx.ingress.kubernetes.io/load-balance: ewma` is not modelled"),
            "{}",
            err(&t)
        );
        let t = ING.replace("affinity-mode: persistent", "canary: \"true\"");
        assert!(
            err(&t).starts_with("line 7: `nginx.ingress.kubernetes.io/canary` is not modelled"),
            "{}",
            err(&t)
        );
        let t = ING.replace("affinity-mode: persistent", "affinity-mode: sticky");
        assert!(
            err(&t).starts_with("line 7: `nginx.ingress.kubernetes.io/affinity-mode: sticky`"),
            "{}",
            err(&t)
        );
        let t = ING.replace("\"172800\"", "2d");
        assert!(
            err(&t).starts_with("line 8: `nginx.ingress.kubernetes.io/session-cookie-max-age` is a number"),
            "{}",
            err(&t)
        );
    }
}
