/** Messages between the server and the embedded database process (over Node's IPC channel). */
export type ParentMessage = { type: 'close' }
export type ChildMessage =
  | { type: 'ready'; version: string; startupMs: Record<string, number> }
  | { type: 'failed'; name: string; message: string }
