import type { Middleware } from 'koa';
import { openApiDocument } from './openApiDocument.js';

/** `GET /openapi.json`: the OpenAPI 3.1 document, built once when the app is created. */
export function openApiRoute(): Middleware {
  const body = JSON.stringify(openApiDocument());
  return (ctx) => {
    ctx.type = 'application/json';
    ctx.body = body;
  };
}
