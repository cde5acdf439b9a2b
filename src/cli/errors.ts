/** An error caused by the user's input: printed as one line, with a chosen exit code. */
export class UserError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
    this.name = 'UserError';
  }
}
