//! `vrrp_sync_group`: keepalived's vrrp_sync.c rules. The members change state together:
//!
//! - FAULT: one member whose tracking wants FAULT takes every member to FAULT
//!   (`vrrp_sync_fault`); the group leaves FAULT only when no member wants it any more,
//!   all members then going BACKUP (MASTER if every member is an address owner);
//! - MASTER: a member whose master-down deadline runs out goes MASTER, taking the others
//!   along, only when every other member wants MASTER too (its own deadline ran out) or
//!   the group already is MASTER (`vrrp_sync_can_goto_master`: "prefer backup state to
//!   avoid thrashing"); otherwise it stays BACKUP with a fresh deadline;
//! - BACKUP: a MASTER member that steps down takes the other MASTER members to BACKUP
//!   (`vrrp_sync_backup`).
//!
//! The group's own notify scripts run on each change of the group's state, with
//! `GROUP NAME STATE 0` for `notify` (keepalived passes priority 0 for groups).

use crate::instance::{notify_pair, Instance, Want};
use crate::{Action, State, SyncGroupConfig};

#[derive(Clone, Debug)]
pub struct Group {
    pub cfg: SyncGroupConfig,
    /// Indexes into the router's instances. An instance belongs to one group at most
    /// (the first that names it, as keepalived); unknown names are ignored.
    pub members: Vec<usize>,
    pub state: State,
}

/// The groups of a config and, per instance, the group it belongs to.
pub fn build(cfgs: &[SyncGroupConfig], instances: &[Instance]) -> (Vec<Group>, Vec<Option<usize>>) {
    let mut member_of = vec![None; instances.len()];
    let mut groups = Vec::new();
    for cfg in cfgs {
        let g = groups.len();
        let mut members = Vec::new();
        for name in &cfg.members {
            if let Some(i) = instances.iter().position(|i| i.name() == name) {
                if member_of[i].is_none() {
                    member_of[i] = Some(g);
                    members.push(i);
                }
            }
        }
        if !members.is_empty() {
            groups.push(Group {
                cfg: cfg.clone(),
                members,
                state: State::Init,
            });
        }
    }
    (groups, member_of)
}

impl Group {
    fn set_state(&mut self, to: State, out: &mut Vec<Action>) {
        if self.state == to {
            return;
        }
        self.state = to;
        let n = &self.cfg.notify;
        let (specific, word) = match to {
            State::Master => (&n.master, "MASTER"),
            State::Backup => (&n.backup, "BACKUP"),
            State::Fault => (&n.fault, "FAULT"),
            State::Init => (&n.stop, "STOP"),
        };
        notify_pair(specific, &n.any, "GROUP", &self.cfg.name, word, 0, out);
    }

    fn others_reason(&self, who: &str, why: &str) -> String {
        format!("sync group {}: {who} {why}", self.cfg.name)
    }

    /// INIT → first state for every member.
    pub fn start(&mut self, instances: &mut [Instance], now: u64, out: &mut Vec<Action>) {
        if self.sync_faults(instances, now, out) {
            return;
        }
        let all_owners = self.members.iter().all(|m| instances[*m].is_owner());
        for &m in &self.members {
            let i = &mut instances[m];
            if all_owners || !i.is_owner() {
                i.start(now, out);
            } else {
                i.enter_backup(
                    now,
                    "startup (sync group not all address owners)".into(),
                    None,
                    out,
                );
            }
        }
        self.set_state(resting(all_owners), out);
    }

    /// Applies a member's wish (see the module doc).
    pub fn apply(
        &mut self,
        instances: &mut [Instance],
        idx: usize,
        want: Want,
        now: u64,
        out: &mut Vec<Action>,
    ) {
        let who = instances[idx].name().to_string();
        match want {
            Want::Master(reason) => {
                let ready = self.state == State::Master
                    || self.members.iter().all(|&m| {
                        m == idx || instances[m].state == State::Master || instances[m].want_master
                    });
                if !ready {
                    instances[idx].defer_master(now);
                    return;
                }
                instances[idx].enter_master(now, reason.clone(), out);
                for &m in &self.members {
                    if m != idx && instances[m].state == State::Backup {
                        instances[m].enter_master(now, self.others_reason(&who, &reason), out);
                    }
                }
                self.set_state(State::Master, out);
            }
            Want::Backup { reason, learned } => {
                instances[idx].enter_backup(now, reason.clone(), Some(learned), out);
                for &m in &self.members {
                    if m != idx && instances[m].state == State::Master {
                        let why = self.others_reason(&who, &format!("went BACKUP: {reason}"));
                        instances[m].enter_backup(now, why, None, out);
                    }
                }
                self.set_state(State::Backup, out);
            }
        }
    }

    /// Puts every member in FAULT while one wants it, and brings them all back when none
    /// does. Returns whether the group is in FAULT.
    pub fn sync_faults(
        &mut self,
        instances: &mut [Instance],
        now: u64,
        out: &mut Vec<Action>,
    ) -> bool {
        let first = self.members.iter().find_map(|&m| {
            let i = &instances[m];
            i.own_fault
                .as_ref()
                .map(|r| (i.name().to_string(), r.clone()))
        });
        if let Some((who, why)) = first {
            let group_reason = self.others_reason(&who, &why);
            for &m in &self.members {
                let i = &mut instances[m];
                let reason = i.own_fault.clone().unwrap_or_else(|| group_reason.clone());
                i.enter_fault(now, reason, out);
            }
            self.set_state(State::Fault, out);
            return true;
        }
        if self.state == State::Fault {
            let all_owners = self.members.iter().all(|m| instances[*m].is_owner());
            for &m in &self.members {
                let i = &mut instances[m];
                if i.state != State::Fault {
                    continue;
                }
                let why = format!("fault cleared ({})", i.fault.clone().unwrap_or_default());
                if all_owners {
                    i.enter_master(now, why, out);
                } else {
                    i.enter_backup(now, why, None, out);
                }
            }
            self.set_state(resting(all_owners), out);
        }
        false
    }

    /// A clean stop.
    pub fn stop(&mut self, out: &mut Vec<Action>) {
        self.set_state(State::Init, out);
    }
}

/// Where a group starts or returns from FAULT: MASTER only when every member is an
/// address owner (keepalived's `vrrp_sync_set_group`), BACKUP otherwise.
fn resting(all_owners: bool) -> State {
    if all_owners {
        State::Master
    } else {
        State::Backup
    }
}
