#!/usr/bin/env node
// An independent implementation of the contact-transfer lifecycle (LIFECYCLE.md), in JavaScript,
// speaking the conformance kit's JSON-lines protocol on stdin/stdout (docs/conformance.md).
//
//   transfer-sim conform --adapter "exec:node examples/conformance/js/impl.js"
//   transfer-sim conform --adapter "exec:node examples/conformance/js/impl.js --bug self_transfer"
//
// Deliberately wrong variants: --bug NAME, or the environment variable CONFORMANCE_BUG=NAME.
"use strict";

const readline = require("readline");

const BUGS = {
  accept_at_deadline: "an accept at exactly the transfer deadline still joins (timer fires only after it)",
  reject_keeps_agent: "a reject does not exclude the agent: it can be offered the transfer again",
  timer_reset_on_offer: "every offer restarts the transfer timer",
  self_transfer: "the owner may transfer the contact to itself (agent:OWNER)",
  offers_kept_after_accept: "other agents' offers are not withdrawn when one accepts",
  leave_transfer_completed: "a customer leaving during a transfer counts as completed",
  assign_at_dissuasion: "an assign at exactly the dissuasion deadline still takes the contact",
  withdraw_excludes_agent: "a withdraw (end of shift) excludes the agent like a reject and drops every offer",
  timer_reset_on_reoffer: "the transfer timer restarts on every re-offer (an offer after a reject, offer timeout or withdraw)",
  close_during_transfer: "a close is taken during a transfer (in routing or offered) and completes the contact",
};

const TRANSFERRING = new Set(["routing", "offered"]);

class TransferImpl {
  constructor(bug) {
    if (bug && !(bug in BUGS)) throw new Error(`unknown bug ${bug}; known: ${Object.keys(BUGS).join(", ")}`);
    this.bug = bug || null;
  }

  create(config) {
    this.transferTimeout = Number(config.transfer_timeout ?? 60);
    this.policy = config.on_transfer_timeout || "abandon";
    // no targets: any target and any agent
    this.groups = config.targets == null ? null : new Map(Object.entries(config.targets).map(([k, v]) => [k, new Set(v)]));
    this.now = 0;
    this.state = "queued";
    this.owner = null;
    this.requester = null;
    this.target = null;
    this.offered = new Set();
    this.rejected = new Set();
    this.transferCount = 0;
    this.transferDeadline = null;
    this.dissuasionDeadline = config.dissuasion_timeout == null ? null : Number(config.dissuasion_timeout);
    this.advance(0); // a dissuasion timer of length 0 fires as the contact arrives
  }

  read() {
    return { state: this.state, owner: this.owner, offered: [...this.offered].sort(), transfer_count: this.transferCount };
  }

  due(deadline, end, lateBug) {
    if (deadline === null) return false;
    return this.bug === lateBug ? deadline < end : deadline <= end;
  }

  advance(seconds) {
    const end = this.now + Number(seconds);
    for (;;) {
      if (this.state === "queued" && this.due(this.dissuasionDeadline, end, "assign_at_dissuasion")) {
        this.now = this.dissuasionDeadline;
        this.state = "dissuaded";
      } else if (TRANSFERRING.has(this.state) && this.due(this.transferDeadline, end, "accept_at_deadline")) {
        this.now = this.transferDeadline;
        this.offered.clear();
        this.transferDeadline = null;
        if (this.policy === "return") {
          this.state = "engaged";
          this.owner = this.requester;
        } else {
          this.state = "transfer_expired";
        }
      } else break;
    }
    this.now = end;
  }

  // a group (even one with nobody in it: it exists all day), or agent:NAME of an agent in a group
  known(target) {
    if (this.groups === null || this.groups.has(target)) return true;
    if (!target.startsWith("agent:")) return false;
    const agent = target.slice("agent:".length);
    return [...this.groups.values()].some((agents) => agents.has(agent));
  }

  members(target) {
    if (this.groups === null) return null;
    if (this.groups.has(target)) return this.groups.get(target); // a group's name wins over agent:NAME
    if (target.startsWith("agent:")) {
      const agent = target.slice("agent:".length);
      for (const agents of this.groups.values()) if (agents.has(agent)) return new Set([agent]);
    }
    return new Set();
  }

  // returns true when the event is taken, false when it is refused; then a timer of length 0
  // that the event started fires at once
  send(event, data) {
    const taken = this.take(event, data);
    this.advance(0);
    return taken;
  }

  take(event, data) {
    const d = data || {};
    switch (event) {
      case "assign": {
        if (this.state !== "queued" || !d.agent) return false;
        const dl = this.dissuasionDeadline;
        if (dl !== null && this.now >= dl && !(this.bug === "assign_at_dissuasion" && this.now === dl)) return false;
        this.state = "engaged";
        this.owner = d.agent;
        return true;
      }
      case "close":
        if (this.state !== "engaged" && !(this.bug === "close_during_transfer" && TRANSFERRING.has(this.state))) return false;
        this.offered.clear();
        this.state = "completed";
        this.owner = null;
        return true;
      case "customer_leave":
        if (this.state === "queued") this.state = "abandoned_queue";
        else if (this.state === "engaged") { this.state = "completed"; this.owner = null; }
        else if (TRANSFERRING.has(this.state)) {
          this.offered.clear();
          this.state = this.bug === "leave_transfer_completed" ? "completed" : "abandoned_transfer";
        } else return false;
        return true;
      case "request_transfer": {
        const t = d.target;
        if (this.state !== "engaged" || !t) return false;
        const self = t === `agent:${this.owner}`;
        if (self && this.bug !== "self_transfer") return false;
        if (!self && !this.known(t)) return false;
        this.requester = this.owner;
        this.owner = null;
        this.target = t;
        this.offered.clear();
        this.rejected.clear();
        this.transferDeadline = this.now + this.transferTimeout;
        this.offersMade = 0;
        this.state = "routing";
        return true;
      }
      case "offer": {
        const agents = d.agents || [];
        if (this.state !== "routing" || agents.length === 0) return false;
        const members = this.target === `agent:${this.requester}` ? new Set([this.requester]) : this.members(this.target);
        if (agents.some((a) => this.rejected.has(a) || (members !== null && !members.has(a)))) return false;
        agents.forEach((a) => this.offered.add(a));
        this.state = "offered";
        if (this.bug === "timer_reset_on_offer" || (this.bug === "timer_reset_on_reoffer" && this.offersMade > 0)) {
          this.transferDeadline = this.now + this.transferTimeout;
        }
        this.offersMade += 1;
        return true;
      }
      case "accept": {
        if (this.state !== "offered" || !this.offered.has(d.agent)) return false;
        const late = this.bug === "accept_at_deadline" ? this.now > this.transferDeadline : this.now >= this.transferDeadline;
        if (late) return false;
        this.owner = d.agent;
        if (this.bug === "offers_kept_after_accept") this.offered.delete(d.agent);
        else this.offered.clear();
        this.transferCount += 1;
        this.transferDeadline = null;
        this.state = "engaged";
        return true;
      }
      case "reject":
      case "offer_timeout":
        if (this.state !== "offered" || !this.offered.has(d.agent)) return false;
        if (event === "reject" && this.bug !== "reject_keeps_agent") this.rejected.add(d.agent);
        this.offered.clear();
        this.state = "routing";
        return true;
      case "withdraw":
        if (this.state !== "offered" || !this.offered.has(d.agent)) return false;
        if (this.bug === "withdraw_excludes_agent") {
          this.rejected.add(d.agent);
          this.offered.clear();
        } else this.offered.delete(d.agent);
        if (this.offered.size === 0) this.state = "routing";
        return true;
      default:
        return false; // unknown events, and the timer events: timers fire on the clock only
    }
  }
}

function main() {
  const argv = process.argv.slice(2);
  const i = argv.indexOf("--bug");
  const impl = new TransferImpl(i >= 0 ? argv[i + 1] : process.env.CONFORMANCE_BUG);
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  rl.on("line", (line) => {
    if (!line.trim()) return;
    let reply;
    try {
      const req = JSON.parse(line);
      switch (req.op) {
        case "create": impl.create(req.config || {}); reply = { ok: true }; break;
        case "send": reply = { ok: true, refused: !impl.send(req.event, req.data) }; break;
        case "advance": impl.advance(req.seconds); reply = { ok: true }; break;
        case "read": reply = { ok: true, ...impl.read() }; break;
        case "dispose": reply = { ok: true }; break;
        default: reply = { ok: false, error: `unknown op ${JSON.stringify(req.op)}` };
      }
    } catch (err) {
      reply = { ok: false, error: String(err && err.message ? err.message : err) };
    }
    process.stdout.write(JSON.stringify(reply) + "\n");
  });
}

if (require.main === module) main();
module.exports = { TransferImpl, BUGS };
