import { type JetStreamManager, NatsError, type StreamConfig } from 'nats';

/** JetStream's API error code for a stream that does not exist. */
const STREAM_NOT_FOUND = 10059;

/**
 * Creates the stream, or brings an existing one to `config` (limits may have changed between
 * releases). Every API instance calls this at start; the outcome is the same whoever is first.
 */
export async function ensureStream(jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string }): Promise<void> {
  try {
    await jsm.streams.info(config.name);
  } catch (error) {
    if (!(error instanceof NatsError) || error.api_error?.err_code !== STREAM_NOT_FOUND) throw error;
    try {
      await jsm.streams.add(config);
      return;
    } catch (raced) {
      // Another instance created it in the meantime: fall through to the update.
      if (!(raced instanceof NatsError)) throw raced;
    }
  }
  await jsm.streams.update(config.name, config);
}
