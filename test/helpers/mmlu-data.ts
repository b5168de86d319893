/**
 * The RouteLLM MMLU data (routing data this repository does not ship): `../shared/data/routellm-mmlu`
 * beside the checkout, or wherever SWITCHYARD_MMLU_DATA points. Tests that need it are skipped,
 * saying why, where it is absent.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const mmluDataDir =
  process.env.SWITCHYARD_MMLU_DATA ??
  fileURLToPath(new URL('../../../shared/data/routellm-mmlu/', import.meta.url));

/** `false` when the data is there, else the reason to skip (for node:test's `skip`). */
export const mmluMissing: false | string = existsSync(mmluDataDir)
  ? false
  : `the MMLU routing data is not at ${mmluDataDir} (set SWITCHYARD_MMLU_DATA to its folder)`;
