//! `platform::ClassicElb` over the simulated world.

use async_trait::async_trait;

use super::Sim;
use crate::platform::{ApiResult, ClassicElb, ClassicLoadBalancer, InstanceHealth};

#[async_trait]
impl ClassicElb for Sim {
    async fn describe_load_balancer(&self, name: &str) -> ApiResult<Option<ClassicLoadBalancer>> {
        self.call("DescribeLoadBalancers", |w, _| {
            Ok(w.load_balancers.get(name).map(|lb| lb.describe()))
        })
        .await
    }

    async fn instance_health(&self, name: &str) -> ApiResult<Vec<InstanceHealth>> {
        self.call("DescribeInstanceHealth", |w, _| {
            Ok(w.load_balancer(name)?.instance_health())
        })
        .await
    }

    async fn register_instances(&self, name: &str, instance_ids: &[String]) -> ApiResult<()> {
        self.change_call("RegisterInstancesWithLoadBalancer", |w, now| {
            w.register_instances(name, instance_ids, now)
        })
        .await
    }

    async fn deregister_instances(&self, name: &str, instance_ids: &[String]) -> ApiResult<()> {
        self.change_call("DeregisterInstancesFromLoadBalancer", |w, now| {
            w.deregister_instances(name, instance_ids, now)
        })
        .await
    }
}
