// The demo catalog: a small built-in list (sku, name, price in cents, a colour swatch in place of a photo).
// Lines whose sku is not here (added through the API, say) still show, with the sku as their name and no price.

export const catalog = [
  { sku: 'TEA-SENCHA', name: 'Sencha green tea, 100 g', price: 1290, colour: '#7fa650' },
  { sku: 'TEA-EARL', name: 'Earl Grey, 125 g', price: 990, colour: '#5b4a7a' },
  { sku: 'MUG-STONE', name: 'Stoneware mug', price: 1800, colour: '#b6a48f' },
  { sku: 'POT-CAST', name: 'Cast-iron teapot', price: 5400, colour: '#2f3437' },
  { sku: 'CUP-GLASS', name: 'Double-wall glass cup', price: 1450, colour: '#9fd3e0' },
  { sku: 'KETTLE-GOOSE', name: 'Gooseneck kettle', price: 6900, colour: '#c0c4c8' },
  { sku: 'SCALE-01', name: 'Pocket scale, 0.1 g', price: 2200, colour: '#e0b84a' },
  { sku: 'WHISK-BAMBOO', name: 'Bamboo matcha whisk', price: 1600, colour: '#d9c089' },
  { sku: 'MATCHA-30', name: 'Ceremonial matcha, 30 g', price: 2900, colour: '#4f8a3c' },
  { sku: 'TIN-WASHI', name: 'Washi paper tea tin', price: 1150, colour: '#d2665a' },
  { sku: 'TRAY-OAK', name: 'Oak serving tray', price: 3800, colour: '#a9784c' },
  { sku: 'CLOTH-LINEN', name: 'Linen tea towel', price: 850, colour: '#e8e1d3' },
];

export const bySku = new Map(catalog.map((p) => [p.sku, p]));

const money = new Intl.NumberFormat('en', { style: 'currency', currency: 'EUR' });

/** `cents` as a price, e.g. "€12.90". */
export const formatPrice = (cents) => money.format(cents / 100);
