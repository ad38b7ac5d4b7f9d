/**
 * In-process list of revoked session ids, each kept until the last token of its session would have
 * expired anyway. Consulted before the database so that a logged-out token is refused at once.
 */
export class RevocationList {
  private readonly revoked = new Map<number, number>();

  /** Marks `sessionId` revoked until `until` (ms since epoch). */
  revoke(sessionId: number, until: number): void {
    this.revoked.set(sessionId, until);
    if (this.revoked.size % 1024 === 0) this.prune();
  }

  isRevoked(sessionId: number): boolean {
    const until = this.revoked.get(sessionId);
    if (until === undefined) return false;
    if (until < Date.now()) {
      this.revoked.delete(sessionId);
      return false;
    }
    return true;
  }

  private prune(): void {
    const now = Date.now();
    for (const [id, until] of this.revoked) if (until < now) this.revoked.delete(id);
  }
}
