import { describe, expect, it } from 'vitest';
import { resetUrlWarning } from '../../api/services/PasswordResetService.js';

describe('auth.resetUrl at start-up', () => {
  it('When production links reset tokens over http://, then a warning says they travel in clear', () => {
    expect(resetUrlWarning('http://flux.example.org/console/reset', 'production')).toMatch(/in clear.*https/);
    expect(resetUrlWarning('HTTP://flux.example.org/reset', 'production')).toBeDefined();
  });

  it('When the page is https://, unset, or outside production, then nothing is said', () => {
    expect(resetUrlWarning('https://flux.example.org/console/reset', 'production')).toBeUndefined();
    expect(resetUrlWarning(undefined, 'production')).toBeUndefined();
    expect(resetUrlWarning('http://localhost:3000/console/reset', 'development')).toBeUndefined();
  });
});
