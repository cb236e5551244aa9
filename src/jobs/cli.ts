import type { Command } from 'commander'

/** `llmbase jobs list|show|retry`: placeholder until the commands land. */
export function registerJobCommands(_program: Command) {}
