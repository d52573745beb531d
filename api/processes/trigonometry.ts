import type { UnaryFunction } from '../../common/ir.js';
import { binaryNumeric, unaryNumeric } from './numeric.js';
import type { JsonSchema, ProcessImplementation } from './types.js';

/** Trigonometric and hyperbolic functions; angles are in radians. NaN and no-data pass through. */

const TRIGONOMETRIC = ['math > trigonometric'];

interface TrigonometricSpec {
  id: string;
  summary: string;
  description: string;
  ir: UnaryFunction;
  compute: (x: number) => number;
  input?: { description: string; schema: JsonSchema };
  output?: { description: string; schema: JsonSchema };
}

function trigonometric(spec: TrigonometricSpec): ProcessImplementation {
  return unaryNumeric({
    id: spec.id,
    summary: spec.summary,
    description: spec.description,
    categories: TRIGONOMETRIC,
    parameter: { name: 'x', ...(spec.input ?? { description: 'An angle in radians.' }) },
    returns: spec.output ?? { description: 'The result, or null for null.' },
    ir: spec.ir,
    compute: spec.compute,
  });
}

const UNIT_RANGE = { type: ['number', 'null'], minimum: -1, maximum: 1 };

export const TRIGONOMETRY_PROCESSES: ProcessImplementation[] = [
  trigonometric({ id: 'sin', summary: 'Sine', description: 'The sine of the angle `x`. Infinite angles give NaN.', ir: 'sin', compute: Math.sin, output: { description: 'A value from −1 to 1, or null.', schema: UNIT_RANGE } }),
  trigonometric({ id: 'cos', summary: 'Cosine', description: 'The cosine of the angle `x`. Infinite angles give NaN.', ir: 'cos', compute: Math.cos, output: { description: 'A value from −1 to 1, or null.', schema: UNIT_RANGE } }),
  trigonometric({ id: 'tan', summary: 'Tangent', description: 'The tangent of the angle `x`. Infinite angles give NaN.', ir: 'tan', compute: Math.tan }),
  trigonometric({
    id: 'arcsin',
    summary: 'Inverse sine',
    description: 'The angle in [−π/2, π/2] whose sine is `x`; values outside [−1, 1] give NaN.',
    ir: 'asin',
    compute: Math.asin,
    input: { description: 'A sine, from −1 to 1.', schema: UNIT_RANGE },
    output: { description: 'The angle in radians, or null.', schema: { type: ['number', 'null'] } },
  }),
  trigonometric({
    id: 'arccos',
    summary: 'Inverse cosine',
    description: 'The angle in [0, π] whose cosine is `x`; values outside [−1, 1] give NaN.',
    ir: 'acos',
    compute: Math.acos,
    input: { description: 'A cosine, from −1 to 1.', schema: UNIT_RANGE },
    output: { description: 'The angle in radians, or null.', schema: { type: ['number', 'null'], minimum: 0 } },
  }),
  trigonometric({
    id: 'arctan',
    summary: 'Inverse tangent',
    description: 'The angle in (−π/2, π/2) whose tangent is `x`.',
    ir: 'atan',
    compute: Math.atan,
    input: { description: 'A tangent.', schema: { type: ['number', 'null'] } },
    output: { description: 'The angle in radians, or null.', schema: { type: ['number', 'null'] } },
  }),
  binaryNumeric({
    id: 'arctan2',
    summary: 'Angle of a point',
    description: 'The angle between the positive x axis and the ray to the point (`x`, `y`), in (−π, π]. Unlike arctan(y / x) it tells the quadrants apart and copes with `x` = 0.',
    categories: TRIGONOMETRIC,
    parameters: [
      { name: 'y', description: 'The vertical coordinate.' },
      { name: 'x', description: 'The horizontal coordinate.' },
    ],
    returns: { description: 'The angle in radians, or null when a coordinate is null.' },
    ir: 'atan2',
    compute: Math.atan2,
  }),
  trigonometric({ id: 'sinh', summary: 'Hyperbolic sine', description: 'The hyperbolic sine of `x`.', ir: 'sinh', compute: Math.sinh, input: { description: 'A number.', schema: { type: ['number', 'null'] } } }),
  trigonometric({
    id: 'cosh',
    summary: 'Hyperbolic cosine',
    description: 'The hyperbolic cosine of `x`.',
    ir: 'cosh',
    compute: Math.cosh,
    input: { description: 'A number.', schema: { type: ['number', 'null'] } },
    output: { description: 'A value of at least 1, or null.', schema: { type: ['number', 'null'], minimum: 1 } },
  }),
  trigonometric({
    id: 'tanh',
    summary: 'Hyperbolic tangent',
    description: 'The hyperbolic tangent of `x`.',
    ir: 'tanh',
    compute: Math.tanh,
    input: { description: 'A number.', schema: { type: ['number', 'null'] } },
    output: { description: 'A value strictly between −1 and 1, or null.', schema: { type: ['number', 'null'], minimumExclusive: -1, maximumExclusive: 1 } },
  }),
  trigonometric({ id: 'arsinh', summary: 'Inverse hyperbolic sine', description: 'The number whose hyperbolic sine is `x`.', ir: 'asinh', compute: Math.asinh, input: { description: 'A number.', schema: { type: ['number', 'null'] } } }),
  trigonometric({
    id: 'arcosh',
    summary: 'Inverse hyperbolic cosine',
    description: 'The non-negative number whose hyperbolic cosine is `x`; values below 1 give NaN.',
    ir: 'acosh',
    compute: Math.acosh,
    input: { description: 'A number of at least 1.', schema: { type: ['number', 'null'] } },
    output: { description: 'A non-negative number, or null.', schema: { type: ['number', 'null'], minimum: 0 } },
  }),
  trigonometric({
    id: 'artanh',
    summary: 'Inverse hyperbolic tangent',
    description: 'The number whose hyperbolic tangent is `x`; ±1 give ±∞ and values beyond give NaN.',
    ir: 'atanh',
    compute: Math.atanh,
    input: { description: 'A number strictly between −1 and 1.', schema: { type: ['number', 'null'], minimumExclusive: -1, maximumExclusive: 1 } },
  }),
];
