/**
 * What the player page fetches besides its script: the policy file and its settings, by the same
 * names from `stitch play` and from a `stitch export web` folder.
 */
import { z } from 'zod';

export const POLICY_URL = 'policy.safetensors';
export const PLAY_SETTINGS_FILE = 'play.json';

export const PlaySettingsSchema = z.object({
  /** the evaluation seed: the page's episode is `stitch eval RUN --episodes 1 --seed <seed>`'s */
  seed: z.number().int().min(0),
}).strict();

export type PlaySettings = z.infer<typeof PlaySettingsSchema>;
