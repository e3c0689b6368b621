import { toAppError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { RtcLinkConfigInput } from '../../core/rtc/linkConfig.js';
import type { SignalingClient } from '../../core/signaling/SignalingClient.js';
import type { LinkProbe } from '../../core/schemas/jobs.js';
import { WorkerLinks } from '../jobs/WorkerLinks.js';
import { failed, passed, type Finding } from './check.js';

/**
 * A DataChannel to `worker` the way the agent opens one (WorkerLinks: the agent offers, signaling
 * relays), with the ICE servers given, after a `link_probe` peer message (a worker answers no
 * other offer from a peer without a job). The protocol has no ping: the channel being open means
 * ICE, DTLS and SCTP all came up; the time is from the probe to the open channel.
 */
export async function checkWebrtc(o: { signaling: SignalingClient; worker: string; link: RtcLinkConfigInput; log: Logger }): Promise<Finding> {
  const links = new WorkerLinks({
    signaling: o.signaling,
    ready: () => Promise.resolve(),
    link: o.link,
    log: o.log,
    // No job wants the link: it is never reopened.
    jobsOn: () => 0,
    onOpen: () => undefined,
    onGone: () => undefined,
  });
  const offAnswer = o.signaling.onAnswer((m) => links.answer(m.sender, m.sdp));
  const offCandidate = o.signaling.onCandidate((m) => links.candidate(m.sender, m.candidate));
  const ice = o.link.iceServers?.length ? `${o.link.iceServers.length} ICE server${o.link.iceServers.length === 1 ? '' : 's'}` : 'no ICE servers';
  const t0 = performance.now();
  try {
    // Workers answer offers only from peers with a job there, or that asked for a probe first.
    await o.signaling.sendPeerMessage(o.worker, { app_message_type: 'link_probe' } satisfies LinkProbe);
    await links.linkTo(o.worker);
    const ms = Math.round(performance.now() - t0);
    return passed(`DataChannel to ${o.worker} open in ${ms} ms (${ice}${o.link.loopbackOnly ? ', loopback only' : ''})`);
  } catch (e) {
    const fix = o.link.loopbackOnly
      ? 'with --loopback-only true (the default) only peers on this machine connect: pass --loopback-only false for a remote worker'
      : 'a worker behind NAT or a firewall needs a STUN or TURN server: pass --ice-servers \'[{"urls":"stun:..."}]\' (the same as the agent\'s)';
    return failed(`${toAppError(e).message} (${ice})`, fix);
  } finally {
    offAnswer();
    offCandidate();
    await links.close();
  }
}
