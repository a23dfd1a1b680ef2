//! `LabClients`: the VPN clients a lab started, one per user, each on its
//! own tunnel device in the lab's client namespace — found by user, asked
//! whether they exited (after a hang-up), stopped by PID with the lab.

use std::process::Child;

use crate::{reaper, stop_child};

#[derive(Debug)]
struct LabClient {
    user: String,
    dev: String,
    child: Option<Child>,
}

/// The clients of one lab, in the order they connected.
#[derive(Debug, Default)]
pub struct LabClients(Vec<LabClient>);

impl LabClients {
    /// `user`'s client `child`, on tunnel device `dev`.
    pub fn add(&mut self, user: &str, dev: &str, child: Child) {
        self.0.push(LabClient {
            user: user.to_owned(),
            dev: dev.to_owned(),
            child: Some(child),
        });
    }

    /// `user`'s tunnel device.
    pub fn dev(&self, user: &str) -> Option<&str> {
        self.0.iter().find(|c| c.user == user).map(|c| c.dev.as_str())
    }

    /// True once `user`'s client has exited (or was never started).
    pub fn exited(&mut self, user: &str) -> bool {
        self.0
            .iter_mut()
            .find(|c| c.user == user)
            .and_then(|c| c.child.as_mut())
            .is_none_or(|c| c.try_wait().ok().flatten().is_some())
    }

    /// The first two users (the conformance scenario's pair).
    pub fn first_two(&self) -> [String; 2] {
        [self.0[0].user.clone(), self.0[1].user.clone()]
    }

    /// Stops every client (SIGTERM, then SIGKILL), by PID.
    pub fn stop_all(&mut self) {
        for c in &mut self.0 {
            if let Some(child) = &c.child {
                reaper::forget_process(child.id());
            }
            stop_child(&mut c.child);
        }
    }
}
