package main

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// A minimal SVG line chart: no dependencies, deterministic output.

type series struct {
	name   string
	color  string
	dashed bool
	pts    [][2]float64 // x, y
	lo, hi []float64    // optional min–max band per point (same length as pts)
}

type chart struct {
	title, xlabel, ylabel string
	logY                  bool
	series                []series
}

const (
	svgW, svgH                     = 640, 380
	padL, padR, padT, padB float64 = 70, 20, 40, 50
)

func (c *chart) bounds() (x0, x1, y0, y1 float64, ok bool) {
	x0, y0 = math.Inf(1), math.Inf(1)
	x1, y1 = math.Inf(-1), math.Inf(-1)
	for _, s := range c.series {
		for i, p := range s.pts {
			ys := []float64{p[1]}
			if s.lo != nil {
				ys = append(ys, s.lo[i], s.hi[i])
			}
			for _, y := range ys {
				if math.IsNaN(y) || (c.logY && y <= 0) {
					continue
				}
				y0, y1 = math.Min(y0, y), math.Max(y1, y)
			}
			x0, x1 = math.Min(x0, p[0]), math.Max(x1, p[0])
		}
	}
	if math.IsInf(x0, 0) || math.IsInf(y0, 0) {
		return 0, 0, 0, 0, false
	}
	if !c.logY {
		y0 = math.Min(0, y0)
		y1 *= 1.1
	} else {
		y0 = math.Pow(10, math.Floor(math.Log10(y0)))
		y1 = math.Pow(10, math.Ceil(math.Log10(y1)))
	}
	x0 = math.Min(0, x0)
	x1 *= 1.05
	if y1 == y0 {
		y1 = y0 + 1
	}
	if x1 == x0 {
		x1 = x0 + 1
	}
	return x0, x1, y0, y1, true
}

// write renders the chart.
func (c *chart) write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", svgW, svgH, svgW, svgH)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="22" text-anchor="middle" font-size="15">%s</text>`+"\n", svgW/2, esc(c.title))
	x0, x1, y0, y1, ok := c.bounds()
	if !ok {
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">no data</text></svg>`+"\n", svgW/2, svgH/2)
		_, err := io.WriteString(w, b.String())
		return err
	}
	pw, ph := svgW-padL-padR, svgH-padT-padB
	sx := func(x float64) float64 { return padL + (x-x0)/(x1-x0)*pw }
	sy := func(y float64) float64 {
		if c.logY {
			return padT + ph - (math.Log10(y)-math.Log10(y0))/(math.Log10(y1)-math.Log10(y0))*ph
		}
		return padT + ph - (y-y0)/(y1-y0)*ph
	}
	// Axes, grid and ticks.
	fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#888"/>`+"\n", padL, padT, pw, ph)
	for _, t := range ticks(x0, x1) {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/><text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n",
			sx(t), padT, sx(t), padT+ph, sx(t), padT+ph+16, tickLabel(t))
	}
	var yt []float64
	if c.logY {
		for v := y0; v <= y1*1.0001; v *= 10 {
			yt = append(yt, v)
		}
	} else {
		yt = ticks(y0, y1)
	}
	for _, t := range yt {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/><text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n",
			padL, sy(t), padL+pw, sy(t), padL-6, sy(t)+4, tickLabel(t))
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", padL+pw/2, svgH-10, esc(c.xlabel))
	fmt.Fprintf(&b, `<text x="16" y="%.1f" text-anchor="middle" transform="rotate(-90 16 %.1f)">%s</text>`+"\n", padT+ph/2, padT+ph/2, esc(c.ylabel))
	// Series.
	for i, s := range c.series {
		var pts []string
		for j, p := range s.pts {
			if math.IsNaN(p[1]) || (c.logY && p[1] <= 0) {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", sx(p[0]), sy(p[1])))
			if s.lo != nil && s.hi[j] > s.lo[j] && (!c.logY || s.lo[j] > 0) {
				fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1"/>`+"\n",
					sx(p[0]), sy(s.lo[j]), sx(p[0]), sy(s.hi[j]), s.color)
			}
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", sx(p[0]), sy(p[1]), s.color)
		}
		dash := ""
		if s.dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		if len(pts) > 1 {
			fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.Join(pts, " "), s.color, dash)
		}
		ly := padT + 14 + float64(i)*16
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"%s/><text x="%.1f" y="%.1f">%s</text>`+"\n",
			padL+10, ly-4, padL+34, ly-4, s.color, dash, padL+40, ly, esc(s.name))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// ticks returns about five round values spanning [lo, hi].
func ticks(lo, hi float64) []float64 {
	span := hi - lo
	step := math.Pow(10, math.Floor(math.Log10(span/5)))
	for _, m := range []float64{1, 2, 5, 10} {
		if span/(step*m) <= 6 {
			step *= m
			break
		}
	}
	var out []float64
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		out = append(out, v)
	}
	return out
}

func tickLabel(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case a >= 1e3:
		return fmt.Sprintf("%gk", v/1e3)
	default:
		return fmt.Sprintf("%g", math.Round(v*1000)/1000)
	}
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
