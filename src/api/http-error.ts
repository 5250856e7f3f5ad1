/**
 * An error a route throws to answer with that HTTP status and message (server.ts's error handler
 * turns it into the JSON body). Its own module so routes need not import the server that imports them.
 */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}
