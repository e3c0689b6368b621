export { RtcLink, type AppMessage, type CloseReason, type InvalidMessage, type LinkState, type OutgoingMessage, type RtcLinkOptions, type RtcLinkStats, type RtcRole } from './RtcLink.js';
export { rtcCandidate, type RtcCandidate, type RtcSignal } from './signal.js';
export { LOOPBACK_ICE, parseLinkConfig, peerConfig, rtcLinkConfig, type RtcLinkConfig, type RtcLinkConfigInput } from './linkConfig.js';
export { assertWebRtcSized, type FileData } from './fileChunks.js';
export type { FileFailure, IncomingFile, ReceivedFile } from './FileReceiver.js';
export type { SentFile } from './FileSender.js';
