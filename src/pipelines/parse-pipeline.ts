/**
 * Parsing one pipeline file: YAML with positions → plain value → schema validation and the
 * checks a schema cannot express → the frozen `PipelineSpec`. Every problem is reported at once
 * with file, line, column, key path and, where there is one, a suggestion; a file with any problem
 * yields no pipeline. Pure: reads no files, runs no expressions (an injected checker may check
 * them).
 */
import {
  findDuplicateKeys,
  formatPath,
  parseYamlDocument,
  positionOf,
  sortProblems,
  toPlainValue,
  MAX_ALIAS_COUNT,
  type YamlDocument,
} from '../yaml/index.ts';
import { checkPipeline } from './check-pipeline.ts';
import { normalizePipeline } from './normalize.ts';
import type { ExpressionChecker, PipelineProblem, PipelineSpec } from './types.ts';
import { validateAgainstSchema, type Finding } from './validate-schema.ts';

/** Pipeline files larger than this are refused unread. */
export const MAX_PIPELINE_FILE_BYTES = 1024 * 1024;

export interface ParsePipelineOptions {
  /** Checks each condition and `${{ }}` template at load time; returns a message when wrong. */
  readonly checkExpression?: ExpressionChecker;
  /** Most combinations one job's matrix may expand to. Default 256. */
  readonly maxMatrixCombinations?: number;
  /** Alias expansions allowed before the file is refused as an alias bomb. */
  readonly maxAliasCount?: number;
}

export interface ParsePipelineResult {
  /** Present only when `problems` is empty. */
  readonly pipeline?: PipelineSpec;
  readonly problems: readonly PipelineProblem[];
}

function locate(document: YamlDocument, file: string, finding: Finding): PipelineProblem {
  return {
    file,
    path: formatPath(finding.segments),
    message: finding.message,
    ...positionOf(document, finding.segments, finding.atKey ?? false),
    ...(finding.suggestion === undefined ? {} : { suggestion: finding.suggestion }),
  };
}

function duplicateFindings(document: YamlDocument): Finding[] {
  return findDuplicateKeys(document).map((d) => {
    const isJob = d.parent.length === 1 && (d.parent[0] === 'jobs' || d.parent[0] === 'finally');
    return {
      segments: [...d.parent, d.key],
      atKey: true,
      message: `duplicate ${isJob ? 'job id' : 'key'} '${d.key}' (first at line ${d.first.line})`,
    };
  });
}

/** Every problem of the pipeline in `text` (shown as `file`), and its spec when there are none. */
export function parsePipeline(
  text: string,
  file: string,
  options: ParsePipelineOptions = {},
): ParsePipelineResult {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_PIPELINE_FILE_BYTES) {
    return {
      problems: [
        {
          file,
          path: '',
          message: `the file is ${bytes} bytes; pipeline files may hold at most ${MAX_PIPELINE_FILE_BYTES}`,
        },
      ],
    };
  }
  const parsed = parseYamlDocument(text, file, { uniqueKeys: false });
  if (parsed.problems.length > 0) return { problems: sortProblems(parsed.problems) };
  const { document } = parsed;
  if (document.doc.contents === null) {
    return {
      problems: [
        {
          file,
          path: '',
          line: 1,
          column: 1,
          message: "the file is empty; expected a mapping with 'name' and 'jobs'",
        },
      ],
    };
  }
  const plain = toPlainValue(document, options.maxAliasCount ?? MAX_ALIAS_COUNT);
  if (plain.problems.length > 0) return { problems: plain.problems };
  const findings = [
    ...duplicateFindings(document),
    ...validateAgainstSchema(plain.value),
    ...checkPipeline(plain.value, {
      checkExpression: options.checkExpression,
      maxMatrixCombinations: options.maxMatrixCombinations,
    }),
  ];
  const problems = sortProblems(findings.map((f) => locate(document, file, f)));
  if (problems.length > 0) return { problems };
  return { pipeline: normalizePipeline(plain.value as Readonly<Record<string, unknown>>), problems: [] };
}
