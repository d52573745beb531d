export async function runApi(): Promise<{ stop(): Promise<void> }> {
  throw new Error('the API role is not built yet');
}
