import { ModelController } from '../../../../../lib/ModelController.js';
import { Card } from '../models/Card.js';

/** The generic CRUD of `Card`, nothing added. */
export class CardController extends ModelController<Card> {
  constructor() {
    super(Card);
  }
}
