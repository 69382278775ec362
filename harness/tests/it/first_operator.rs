// Your first operator test: a kube-runtime operator of your own, its CRD, one
// Eventually, one Consistently with the faker paused. README.md shows this
// file; `readme_shows_this_file` (in main.rs) keeps the two the same.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::{Client, CustomResource, CustomResourceExt, Resource, ResourceExt};
use kube_harness::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A website: a Deployment of `replicas` pods; Ready once they all are.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, JsonSchema)]
#[kube(group = "example.com", version = "v1", kind = "Website", namespaced)]
#[kube(status = "WebsiteStatus")]
struct WebsiteSpec {
    replicas: i32,
    image: String,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct WebsiteStatus {
    phase: String,
    ready_replicas: i32,
    observed_generation: i64,
}

/// The operator. `trust_spec` is the bug: Ready as soon as the spec says so.
async fn run(client: Client, trust_spec: bool) -> anyhow::Result<()> {
    let sites = Api::<Website>::default_namespaced(client.clone());
    let deploys = Api::<Deployment>::default_namespaced(client.clone());
    let reconcile = |site: Arc<Website>, _: Arc<()>| {
        let (sites, deploys) = (sites.clone(), deploys.clone());
        async move {
            let (name, apply) = (site.name_any(), PatchParams::apply("website-operator"));
            let labels = json!({"app": name});
            let pods = json!({"metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": site.spec.image}]}});
            let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "ownerReferences": [site.controller_owner_ref(&()).unwrap()]},
                "spec": {"replicas": site.spec.replicas, "selector": {"matchLabels": labels}, "template": pods}});
            let deploy = deploys
                .patch(&name, &apply.clone().force(), &Patch::Apply(deploy))
                .await?;
            let ready = deploy.status.and_then(|s| s.ready_replicas).unwrap_or(0);
            let done = trust_spec || ready == site.spec.replicas;
            let phase = if done { "Ready" } else { "Progressing" };
            let status = json!({"status": {"phase": phase, "readyReplicas": ready,
                "observedGeneration": site.metadata.generation}});
            sites
                .patch_status(&name, &PatchParams::default(), &Patch::Merge(status))
                .await?;
            Ok::<_, kube::Error>(Action::requeue(Duration::from_secs(30)))
        }
    };
    let retry =
        |_: Arc<Website>, _: &kube::Error, _: Arc<()>| Action::requeue(Duration::from_secs(1));
    Controller::new(sites.clone(), Default::default())
        .owns(deploys.clone(), Default::default())
        .run(reconcile, retry, Arc::new(()))
        .for_each(|_| async {})
        .await;
    Ok(())
}

/// The test: what a user writes.
async fn website_waits_for_its_pods(trust_spec: bool) -> anyhow::Result<()> {
    let env = TestEnv::embedded().await?; // in-process API server, a namespace of its own
    env.install_crd(Website::crd()).await?;
    let faker = env.status_faker().start(); // plays the Deployment controller and kubelet
    env.spawn_operator("website-operator", move |client| run(client, trust_spec))?;

    let blog = env
        .apply(Website::new(
            "blog",
            WebsiteSpec {
                replicas: 2,
                image: "nginx:1.27".into(),
            },
        ))
        .await?;
    eventually(env.get(&blog))
        .should(all_of![
            field("status.phase", eq("Ready")),
            field("status.readyReplicas", eq(2))
        ])
        .await?;

    faker.pause(); // new pods never start: the site must not claim Ready
    env.patch(&blog, json!({"spec": {"replicas": 3}})).await?;
    eventually(env.get(&blog))
        .should(field("status.observedGeneration", eq(2)))
        .await?;
    consistently(env.get(&blog))
        .for_(10.s())
        .should(all_of![
            field("status.phase", eq("Progressing")),
            field("status.readyReplicas", eq(2))
        ])
        .await?;

    faker.resume();
    eventually(env.get(&blog))
        .should(field("status.phase", eq("Ready")))
        .await?;
    env.finish().await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn first_operator_test() -> anyhow::Result<()> {
    website_waits_for_its_pods(false).await
}

#[tokio::test(start_paused = true)]
async fn first_operator_test_catches_a_site_that_claims_ready_too_early() {
    let failure = website_waits_for_its_pods(true)
        .await
        .unwrap_err()
        .to_string();
    println!("{failure}");
    assert!(
        failure.starts_with("consistently failed after "),
        "{failure}"
    );
    assert!(
        failure.contains("waiting on website/blog in ns "),
        "{failure}"
    );
    assert!(
        failure.contains("status.phase: expected \"Progressing\", got \"Ready\""),
        "{failure}"
    );
    assert!(
        failure.contains("operator logs") || failure.contains("timeline (ns"),
        "{failure}"
    );
}
