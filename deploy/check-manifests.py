#!/usr/bin/env python3
"""Checks deploy/kubernetes offline (no cluster here, and `kubectl apply --dry-run=client` needs a server's API
discovery): every document parses and is a namespace-free object of a known kind; the spindle Deployment has two or
more replicas, readiness and liveness probes on /.well-known/spin/health at the container's port, a preStop pause
plus spindle's 30 s drain inside terminationGracePeriodSeconds, and its runtime config from the ConfigMap (mounted
where RUNTIME_CONFIG_FILE points); that config keeps the `default` key-value store on Redis at a Service that
selects the Redis pods' port; every Service and PodDisruptionBudget selects pods that exist.

  python3 deploy/check-manifests.py [--runtime-config FILE]
prints the values deploy/check-container.sh runs the image with (shell assignments), and with --runtime-config
writes the ConfigMap's runtime-config.toml to FILE. Exit status 1 and one line per problem when a check fails.
"""
import glob
import os
import sys
import tomllib
import urllib.parse

try:
    import yaml
except ImportError:
    sys.exit("check-manifests: PyYAML is missing (Debian: apt-get install python3-yaml)")

HEALTH = "/.well-known/spin/health"
IMAGE_PORT = 3000      # deploy/Containerfile: SPIN_HTTP_LISTEN_ADDR=0.0.0.0:3000
DRAIN_SECONDS = 30     # spindle's shutdown timeout (SpindleHostOptions.ShutdownTimeout)
KINDS = {"ConfigMap": "v1", "Service": "v1", "Deployment": "apps/v1", "PodDisruptionBudget": "policy/v1"}

here = os.path.dirname(os.path.abspath(__file__))
problems = []


def check(ok, message):
    if not ok:
        problems.append(message)
    return ok


def load():
    docs = []
    for path in sorted(glob.glob(os.path.join(here, "kubernetes", "*.yaml"))):
        with open(path, encoding="utf-8") as f:
            for doc in yaml.safe_load_all(f):
                if doc is None:
                    continue
                name = f"{os.path.basename(path)}: {doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
                check(KINDS.get(doc.get("kind")) == doc.get("apiVersion"), f"{name}: unexpected kind/apiVersion {doc.get('apiVersion')}")
                check(bool((doc.get("metadata") or {}).get("name")), f"{name}: no metadata.name")
                check("namespace" not in (doc.get("metadata") or {}), f"{name}: sets a namespace (the manifests are namespace-free)")
                docs.append(doc)
    return docs


def find(docs, kind, name):
    found = [d for d in docs if d.get("kind") == kind and d["metadata"].get("name") == name]
    check(len(found) == 1, f"expected one {kind}/{name}, found {len(found)}")
    return found[0] if found else None


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def pods_selected(docs, selector):
    return [d for d in docs if d.get("kind") == "Deployment"
            and selects(selector, d["spec"]["template"]["metadata"].get("labels") or {})]


def container_port(deployment, port):
    """The containerPort a Service targetPort / probe port (name or number) resolves to, or None."""
    for c in deployment["spec"]["template"]["spec"]["containers"]:
        for p in c.get("ports") or []:
            if port in (p.get("name"), p.get("containerPort")):
                return p["containerPort"]
    return None


def main():
    out_config = None
    if len(sys.argv) == 3 and sys.argv[1] == "--runtime-config":
        out_config = sys.argv[2]
    elif len(sys.argv) != 1:
        sys.exit(__doc__)
    docs = load()
    dep = find(docs, "Deployment", "spindle")
    cm = find(docs, "ConfigMap", "spindle-config")
    if dep is None or cm is None:
        return
    spec, pod = dep["spec"], dep["spec"]["template"]["spec"]
    check(spec.get("replicas", 1) >= 2, f"Deployment/spindle: replicas {spec.get('replicas', 1)} < 2")
    check(selects(spec["selector"].get("matchLabels"), dep["spec"]["template"]["metadata"].get("labels") or {}),
          "Deployment/spindle: selector does not match its pod labels")
    containers = [c for c in pod["containers"] if c["name"] == "spindle"]
    if not check(len(containers) == 1, "Deployment/spindle: no container named spindle"):
        return
    c = containers[0]
    check(container_port(dep, IMAGE_PORT) == IMAGE_PORT, f"Deployment/spindle: containerPort {IMAGE_PORT} not declared")
    for probe in ("readinessProbe", "livenessProbe"):
        get = (c.get(probe) or {}).get("httpGet") or {}
        check(get.get("path") == HEALTH, f"Deployment/spindle: {probe} is not an httpGet on {HEALTH}")
        check(container_port(dep, get.get("port")) == IMAGE_PORT, f"Deployment/spindle: {probe} port {get.get('port')} is not {IMAGE_PORT}")
    pre_stop = ((c.get("lifecycle") or {}).get("preStop") or {})
    pause = (pre_stop.get("sleep") or {}).get("seconds", 0)
    grace = pod.get("terminationGracePeriodSeconds", 30)
    check(pause > 0, "Deployment/spindle: no preStop pause (the Service would still route to a pod that got SIGTERM)")
    check(grace >= pause + DRAIN_SECONDS, f"Deployment/spindle: terminationGracePeriodSeconds {grace} < preStop {pause} + drain {DRAIN_SECONDS}")
    # The runtime config: RUNTIME_CONFIG_FILE inside a mount of the ConfigMap that holds that key.
    env = {e["name"]: e.get("value") for e in c.get("env") or []}
    rc_path = env.get("RUNTIME_CONFIG_FILE") or ""
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    mount = next((m for m in c.get("volumeMounts") or [] if rc_path.startswith(m["mountPath"].rstrip("/") + "/")), None)
    rc_key = os.path.basename(rc_path)
    if check(mount is not None, f"Deployment/spindle: RUNTIME_CONFIG_FILE={rc_path!r} is on no volume mount"):
        vol = volumes.get(mount["name"]) or {}
        check((vol.get("configMap") or {}).get("name") == "spindle-config",
              f"Deployment/spindle: {mount['mountPath']} is not the ConfigMap spindle-config")
    rc_text = (cm.get("data") or {}).get(rc_key)
    if not check(rc_text is not None, f"ConfigMap/spindle-config: no key {rc_key!r}"):
        return
    try:
        rc = tomllib.loads(rc_text)
    except tomllib.TOMLDecodeError as e:
        check(False, f"ConfigMap/spindle-config: {rc_key}: {e}")
        return
    kv = (rc.get("key_value_store") or {}).get("default") or {}
    if check(kv.get("type") == "redis", "runtime config: key_value_store.default is not type = \"redis\""):
        url = urllib.parse.urlparse(kv.get("url", ""))
        svc = find(docs, "Service", url.hostname)
        if svc is not None:
            port = url.port or 6379
            sp = [p for p in svc["spec"]["ports"] if p["port"] == port]
            backends = pods_selected(docs, svc["spec"].get("selector"))
            if check(sp and backends, f"Service/{url.hostname}: no port {port} or no pods behind it"):
                check(container_port(backends[0], sp[0].get("targetPort", port)) is not None,
                      f"Service/{url.hostname}: targetPort {sp[0].get('targetPort')} is no container port")
    for d in docs:
        if d.get("kind") in ("Service", "PodDisruptionBudget"):
            sel = d["spec"].get("selector") or {}
            sel = sel.get("matchLabels", sel) if d["kind"] == "PodDisruptionBudget" else sel
            check(pods_selected(docs, sel), f"{d['kind']}/{d['metadata']['name']}: selects no pods")
    spindle_svc = find(docs, "Service", "spindle")
    if spindle_svc is not None:
        for p in spindle_svc["spec"]["ports"]:
            check(container_port(dep, p.get("targetPort", p["port"])) == IMAGE_PORT,
                  f"Service/spindle: port {p['port']} does not reach containerPort {IMAGE_PORT}")
    if problems:
        return
    if out_config:
        with open(out_config, "w", encoding="utf-8") as f:
            f.write(rc_text)
    print(f"K8S_IMAGE={c['image']}")
    print(f"K8S_PORT={IMAGE_PORT}")
    print(f"K8S_HEALTH={HEALTH}")
    print(f"K8S_GRACE={grace}")
    print(f"K8S_PRESTOP={pause}")
    print(f"K8S_RC_PATH={rc_path}")
    print(f"K8S_REDIS_HOST={url.hostname}")
    print(f"K8S_REDIS_PORT={url.port or 6379}")


main()
if problems:
    for p in problems:
        print(f"check-manifests: {p}", file=sys.stderr)
    sys.exit(1)
