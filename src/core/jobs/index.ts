/** The job protocol shared by the worker and its clients (the agent): event log, commands, client channel. */
export { FINAL_STATUSES, JobEventLog, MemoryEventStore, type JobCompletion, type JobError, type JobEvent, type JobEventStore } from './JobEventLog.js';
export { answerCommand, CommandRefused, commandErrorCode, commandMessage, newCommandId, PendingCommands, type CommandAck, type CommandErrorCode, type JobCommand } from './commands.js';
export { JobChannel, type JobChannelOptions, type JobLink } from './JobChannel.js';
export { EventFile, type EventFileOptions } from './EventFile.js';
