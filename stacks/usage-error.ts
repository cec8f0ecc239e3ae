/** Bad command-line input: the CLI prints the message with its usage and exits 2. */
export class RenderUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RenderUsageError";
  }
}
