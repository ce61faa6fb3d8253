//! Classic load balancers: listeners, the health check, connection draining and the health of
//! each registered instance, replayed check by check up to the moment someone looks.
//!
//! A check passes when the instance has a RUNNING task answering on the health-check target's
//! port (its static host port) and the instance's zone is enabled. The first check is one
//! interval after registration; `healthy_threshold` passes in a row make an instance
//! InService, `unhealthy_threshold` failures in a row make it OutOfService again.

use std::time::Duration;

use tokio::time::Instant;

use super::world::{Fail, World};
use crate::platform::{ClassicLoadBalancer, HealthCheck, HealthState, InstanceHealth, Listener};

pub const NOT_YET_HEALTHY: &str = "Instance has not passed the configured HealthyThreshold number of health checks consecutively.";
pub const FAILED_CHECKS: &str =
    "Instance has failed at least the UnhealthyThreshold number of health checks consecutively.";
pub const DEREGISTERING: &str = "Instance deregistration currently in progress.";
pub const ZONE_NOT_ENABLED: &str =
    "Instance is in an Availability Zone for which LoadBalancer is not configured.";

/// A health check with the classic ELB defaults (30 s interval, 5 s timeout, 10 passes to
/// become healthy, 2 failures to become unhealthy) for a target like `HTTP:5555/testme`.
pub fn health_check(target: &str) -> HealthCheck {
    HealthCheck {
        target: target.to_string(),
        interval: Duration::from_secs(30),
        timeout: Duration::from_secs(5),
        healthy_threshold: 10,
        unhealthy_threshold: 2,
    }
}

/// The port of a health-check target: `HTTP:5555/testme` -> 5555, `TCP:80` -> 80.
fn target_port(target: &str) -> Option<u16> {
    let (_, rest) = target.split_once(':')?;
    rest.split('/').next()?.parse().ok()
}

#[derive(Debug, Clone)]
struct Registration {
    instance_id: String,
    availability_zone: String,
    next_check: Instant,
    state: HealthState,
    passes: u32,
    failures: u32,
    has_been_in_service: bool,
    /// Deregistered with connections draining: leaves the list at this instant.
    leaves_at: Option<Instant>,
}

#[derive(Debug, Clone)]
pub(crate) struct LoadBalancer {
    pub name: String,
    pub listeners: Vec<Listener>,
    pub health_check: HealthCheck,
    pub connection_draining: Option<Duration>,
    pub cross_zone: bool,
    pub availability_zones: Vec<String>,
    registrations: Vec<Registration>,
}

impl LoadBalancer {
    pub fn new(name: &str, health_check: HealthCheck, listeners: Vec<Listener>) -> LoadBalancer {
        LoadBalancer {
            name: name.to_string(),
            listeners,
            health_check,
            connection_draining: Some(Duration::from_secs(300)),
            cross_zone: true,
            availability_zones: Vec::new(),
            registrations: Vec::new(),
        }
    }

    /// The instance port the health check probes.
    pub fn health_port(&self) -> Option<u16> {
        target_port(&self.health_check.target)
            .or_else(|| self.listeners.first().map(|l| l.instance_port))
    }

    fn zone_enabled(&self, zone: &str) -> bool {
        self.availability_zones.iter().any(|z| z == zone)
    }

    fn active(&self, instance_id: &str) -> Option<&Registration> {
        self.registrations
            .iter()
            .find(|r| r.instance_id == instance_id && r.leaves_at.is_none())
    }

    /// Registered and not deregistering.
    pub fn registered_ids(&self) -> impl Iterator<Item = &str> {
        self.registrations
            .iter()
            .filter(|r| r.leaves_at.is_none())
            .map(|r| r.instance_id.as_str())
    }

    pub fn is_in_service(&self, instance_id: &str) -> bool {
        self.active(instance_id)
            .is_some_and(|r| r.state == HealthState::InService)
    }

    /// Failed `unhealthy_threshold` checks in a row: ECS replaces a service's task on it.
    pub fn is_unhealthy(&self, instance_id: &str) -> bool {
        self.active(instance_id).is_some_and(|r| {
            r.state == HealthState::OutOfService
                && r.failures >= self.health_check.unhealthy_threshold
        })
    }

    /// The next instant a check is due or a deregistering instance leaves.
    pub fn next_event(&self) -> Option<Instant> {
        self.registrations
            .iter()
            .map(|r| r.leaves_at.unwrap_or(r.next_check))
            .min()
    }

    /// InService, or deregistering with requests still in flight.
    pub fn receives_traffic(&self, instance_id: &str) -> bool {
        self.registrations.iter().any(|r| {
            r.instance_id == instance_id
                && (r.leaves_at.is_some() || r.state == HealthState::InService)
        })
    }

    /// Replays every health check due up to `now` and drops instances done draining.
    /// `serves(instance, port, t)` says whether the instance answered on `port` at `t`.
    pub fn settle(&mut self, now: Instant, serves: impl Fn(&str, u16, Instant) -> bool) {
        self.registrations
            .retain(|r| r.leaves_at.is_none_or(|t| t > now));
        let port = self.health_port();
        let interval = self.health_check.interval.max(Duration::from_millis(1));
        let (healthy, unhealthy) = (
            self.health_check.healthy_threshold,
            self.health_check.unhealthy_threshold,
        );
        let zones = &self.availability_zones;
        for r in self
            .registrations
            .iter_mut()
            .filter(|r| r.leaves_at.is_none())
        {
            let zone_ok = zones.contains(&r.availability_zone);
            while r.next_check <= now {
                let t = r.next_check;
                let pass = zone_ok && port.is_some_and(|p| serves(&r.instance_id, p, t));
                r.record(pass, healthy, unhealthy);
                r.next_check = t + interval;
            }
        }
    }

    /// RegisterInstancesWithLoadBalancer for one instance: OutOfService until it passes
    /// `healthy_threshold` checks. Registering a registered instance changes nothing; one still
    /// draining starts over.
    pub fn register(&mut self, instance_id: &str, availability_zone: &str, now: Instant) {
        if self.active(instance_id).is_some() {
            return;
        }
        self.registrations.retain(|r| r.instance_id != instance_id);
        self.registrations.push(Registration {
            instance_id: instance_id.to_string(),
            availability_zone: availability_zone.to_string(),
            next_check: now + self.health_check.interval,
            state: HealthState::OutOfService,
            passes: 0,
            failures: 0,
            has_been_in_service: false,
            leaves_at: None,
        });
    }

    /// Registers an instance whose health is already known, as if registered long ago.
    pub fn register_settled(
        &mut self,
        instance_id: &str,
        availability_zone: &str,
        now: Instant,
        passing: bool,
    ) {
        self.register(instance_id, availability_zone, now);
        let (healthy, unhealthy) = (
            self.health_check.healthy_threshold,
            self.health_check.unhealthy_threshold,
        );
        let zone_ok = self.zone_enabled(availability_zone);
        if let Some(r) = self
            .registrations
            .iter_mut()
            .find(|r| r.instance_id == instance_id)
        {
            for _ in 0..healthy.max(unhealthy) {
                r.record(passing && zone_ok, healthy, unhealthy);
            }
        }
    }

    /// Registered, or deregistering with connections still draining.
    fn is_listed(&self, instance_id: &str) -> bool {
        self.registrations
            .iter()
            .any(|r| r.instance_id == instance_id)
    }

    /// DeregisterInstancesFromLoadBalancer for one instance. With connection draining on, an
    /// InService instance stays listed as deregistering for `drain` (capped by the timeout);
    /// otherwise it leaves at once. Returns when it has left.
    pub fn deregister(&mut self, instance_id: &str, now: Instant, drain: Duration) -> Instant {
        let Some(r) = self
            .registrations
            .iter_mut()
            .find(|r| r.instance_id == instance_id && r.leaves_at.is_none())
        else {
            return self
                .registrations
                .iter()
                .filter(|r| r.instance_id == instance_id)
                .find_map(|r| r.leaves_at)
                .unwrap_or(now);
        };
        if r.state == HealthState::InService && !drain.is_zero() {
            r.leaves_at = Some(now + drain);
            now + drain
        } else {
            self.registrations.retain(|r| r.instance_id != instance_id);
            now
        }
    }

    /// How long an InService instance drains after deregistration.
    pub fn drain_time(&self, timings: &super::timings::Timings) -> Duration {
        self.connection_draining
            .map_or(Duration::ZERO, |timeout| timings.drain_time(timeout))
    }

    /// DescribeInstanceHealth, as of the last `settle`.
    pub fn instance_health(&self) -> Vec<InstanceHealth> {
        self.registrations
            .iter()
            .map(|r| {
                let out = |code: &str, description: &str| InstanceHealth {
                    instance_id: r.instance_id.clone(),
                    state: HealthState::OutOfService,
                    reason_code: Some(code.to_string()),
                    description: Some(description.to_string()),
                };
                if r.leaves_at.is_some() {
                    out("Instance", DEREGISTERING)
                } else if !self.zone_enabled(&r.availability_zone) {
                    out("ELB", ZONE_NOT_ENABLED)
                } else if r.state == HealthState::InService {
                    InstanceHealth {
                        instance_id: r.instance_id.clone(),
                        state: HealthState::InService,
                        reason_code: None,
                        description: None,
                    }
                } else if r.has_been_in_service
                    || r.failures >= self.health_check.unhealthy_threshold
                {
                    // Like the real one: a new instance failing its checks says so too.
                    out("Instance", FAILED_CHECKS)
                } else {
                    out("ELB", NOT_YET_HEALTHY)
                }
            })
            .collect()
    }

    pub fn describe(&self) -> ClassicLoadBalancer {
        ClassicLoadBalancer {
            name: self.name.clone(),
            instances: self.registered_ids().map(String::from).collect(),
            listeners: self.listeners.clone(),
            health_check: self.health_check.clone(),
            connection_draining: self.connection_draining,
            cross_zone: self.cross_zone,
            availability_zones: self.availability_zones.clone(),
        }
    }
}

impl Registration {
    fn record(&mut self, pass: bool, healthy: u32, unhealthy: u32) {
        if pass {
            self.passes += 1;
            self.failures = 0;
            if self.passes >= healthy {
                self.state = HealthState::InService;
                self.has_been_in_service = true;
            }
        } else {
            self.failures += 1;
            self.passes = 0;
            if self.failures >= unhealthy {
                self.state = HealthState::OutOfService;
            }
        }
    }
}

impl World {
    pub(crate) fn load_balancer(&self, name: &str) -> Result<&LoadBalancer, Fail> {
        self.load_balancers.get(name).ok_or_else(|| {
            Fail::not_found(format!(
                "LoadBalancerNotFound: there is no ACTIVE load balancer named '{name}'"
            ))
        })
    }

    fn load_balancer_mut(&mut self, name: &str) -> Result<&mut LoadBalancer, Fail> {
        self.load_balancer(name)?;
        Ok(self
            .load_balancers
            .get_mut(name)
            .expect("checked just above"))
    }

    pub(crate) fn register_instances(
        &mut self,
        name: &str,
        instance_ids: &[String],
        now: Instant,
    ) -> Result<(), Fail> {
        self.load_balancer(name)?;
        let zones = instance_ids
            .iter()
            .map(|id| {
                self.availability_zone_of(id)
                    .map(String::from)
                    .ok_or_else(|| {
                        Fail::invalid(format!(
                            "InvalidInstance: the instance ID {id} is not valid"
                        ))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let lb = self.load_balancer_mut(name)?;
        for (id, zone) in instance_ids.iter().zip(zones) {
            lb.register(id, &zone, now);
        }
        Ok(())
    }

    pub(crate) fn deregister_instances(
        &mut self,
        name: &str,
        instance_ids: &[String],
        now: Instant,
    ) -> Result<(), Fail> {
        let timings = self.timings.clone();
        let lb = self.load_balancer_mut(name)?;
        if let Some(id) = instance_ids.iter().find(|id| !lb.is_listed(id)) {
            return Err(Fail::invalid(format!(
                "InvalidInstance: instance {id} is not registered with load balancer {name}"
            )));
        }
        let drain = lb.drain_time(&timings);
        for id in instance_ids {
            lb.deregister(id, now, drain);
        }
        Ok(())
    }
}
