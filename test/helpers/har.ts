/** Writes HAR 1.2 documents the way capture tools do, for feeding `mdmtap analyze` in tests. */

export interface HarStep {
  /** ms since the capture's start */
  at: number;
  /** duration of the exchange in ms (HAR `time`) */
  time?: number;
  host?: string;
  path?: string;
  method?: string;
  contentType?: string;
  requestBody?: Buffer;
  status?: number;
  responseBody?: Buffer;
  /** how the body text is written: base64 (mitmproxy, Charles) or plain text (browsers) */
  encoding?: 'base64' | 'text';
  omitResponseContent?: boolean;
  error?: string;
}

const T0 = Date.parse('2026-11-24T10:00:00.000Z');

export function harOf(steps: HarStep[]): string {
  const entries = steps.map((s) => {
    const enc = s.encoding ?? 'base64';
    const text = (b: Buffer | undefined) =>
      b === undefined ? undefined : enc === 'base64' ? b.toString('base64') : b.toString('utf8');
    const reqBody = s.requestBody;
    const entry: Record<string, unknown> = {
      startedDateTime: new Date(T0 + s.at).toISOString(),
      time: s.time ?? 20,
      request: {
        method: s.method ?? 'PUT',
        url: `https://${s.host ?? 'mdm.example.com'}${s.path ?? '/mdm'}`,
        httpVersion: 'HTTP/1.1',
        headers: [
          { name: 'Content-Type', value: s.contentType ?? 'application/x-apple-aspen-mdm' },
          { name: 'Mdm-Signature', value: 'MIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEFADCABgkqhkiG9w0BBwEAAKCAMIIE' },
        ],
        queryString: [],
        cookies: [],
        headersSize: -1,
        bodySize: reqBody?.length ?? 0,
        postData: reqBody
          ? { mimeType: s.contentType ?? 'application/x-apple-aspen-mdm', text: text(reqBody), ...(enc === 'base64' ? { encoding: 'base64' } : {}) }
          : undefined,
      },
      response: {
        status: s.status ?? 200,
        statusText: '',
        httpVersion: 'HTTP/1.1',
        headers: [],
        cookies: [],
        content: s.omitResponseContent
          ? { size: 0, mimeType: '' }
          : {
              size: s.responseBody?.length ?? 0,
              mimeType: 'application/xml',
              text: text(s.responseBody) ?? '',
              ...(enc === 'base64' ? { encoding: 'base64' } : {}),
            },
        redirectURL: '',
        headersSize: -1,
        bodySize: s.responseBody?.length ?? 0,
      },
      cache: {},
      timings: { send: 1, wait: (s.time ?? 20) - 2, receive: 1 },
    };
    if (s.error) entry._error = s.error;
    return entry;
  });
  return JSON.stringify({ log: { version: '1.2', creator: { name: 'test', version: '1' }, entries } }, null, 2);
}
