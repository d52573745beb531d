export async function runEmbedded(): Promise<{ stop(): Promise<void> }> {
  throw new Error('the embedded role is not built yet');
}
