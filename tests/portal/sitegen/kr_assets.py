"""Static chrome of the 뉴스벨 pages (inline CSS and scripts), kept apart from the templates."""

from __future__ import annotations

from tests.portal.sitegen.common import BASE

CSS = """
*{margin:0;padding:0;box-sizing:border-box}body{font-family:'Pretendard','Apple SD Gothic Neo',
'Malgun Gothic',sans-serif;color:#222;background:#fff;font-size:15px;line-height:1.6}
a{color:inherit;text-decoration:none}ul,ol{list-style:none}img{border:0;vertical-align:top}
#skip_nav a{position:absolute;left:-9999px;top:0;z-index:9999;background:#000;color:#fff;
padding:8px 12px}#skip_nav a:focus{left:0}.blind{position:absolute;width:1px;height:1px;
overflow:hidden;clip:rect(0 0 0 0)}.wrap{width:1200px;margin:0 auto}
.top-util{height:34px;border-bottom:1px solid #eee;font-size:12px;color:#777}
.top-util .util-left{float:left}.top-util .util-right{float:right}.top-util a{margin:0 6px}
.header{height:88px;position:relative}.header .logo{position:absolute;left:0;top:24px}
.header .logo img{height:38px}.header .search{position:absolute;right:0;top:26px}
.header .search input{width:240px;height:36px;border:2px solid #e8342e;border-radius:18px;
padding:0 40px 0 16px}.gnb{border-top:1px solid #ddd;border-bottom:2px solid #222;height:52px}
.gnb>ul>li{float:left;position:relative}.gnb>ul>li>a{display:block;padding:0 18px;
line-height:50px;font-weight:700;font-size:16px}.gnb>ul>li.on>a{color:#e8342e}
.gnb .sub{display:none;position:absolute;left:0;top:52px;background:#fff;border:1px solid #ddd;
padding:10px 0;min-width:150px;z-index:50}.gnb li:hover .sub{display:block}
.gnb .sub a{display:block;padding:4px 16px;font-size:14px;color:#555}
.container{overflow:hidden;padding:30px 0 60px}.content{float:left;width:800px}
.aside{float:right;width:340px}.article-head{border-bottom:1px solid #ddd;padding-bottom:18px}
.article-head .category{color:#e8342e;font-weight:700;font-size:14px}
.article-head h1{font-size:32px;line-height:1.35;letter-spacing:-1px;margin:10px 0 16px}
.article-head .byline{font-size:13px;color:#888}.article-head .byline .press{color:#222;
font-weight:700;margin-right:8px}.article-tools{float:right}.article-tools button{width:32px;
height:32px;border:1px solid #ddd;border-radius:50%;background:#fff;margin-left:4px}
.article-body{padding:30px 0;font-size:18px;line-height:1.85;letter-spacing:-.3px}
.article-body p{margin-bottom:26px}.article-body figure{margin:0 0 30px;text-align:center}
.article-body figcaption{font-size:13px;color:#888;margin-top:8px}
.reporter-box{border:1px solid #eee;padding:16px 20px;font-size:14px;margin-bottom:30px}
.reporter-box .name{font-weight:700}.reporter-box .mail{color:#888;margin-left:6px}
.ad-area{margin:24px 0;text-align:center;min-height:100px;background:#fafafa;position:relative}
.ad-area .ad-label{position:absolute;right:4px;top:2px;font-size:10px;color:#aaa}
.comment{border-top:2px solid #222;padding-top:18px;margin-top:30px}.comment h3{font-size:18px}
.comment textarea{width:100%;height:90px;border:1px solid #ddd;padding:12px;resize:none}
.comment .cmt-count{text-align:right;font-size:12px;color:#999}.news-box{margin-top:36px}
.news-box h3{font-size:18px;border-bottom:2px solid #222;padding-bottom:10px;margin-bottom:8px}
.news-box li{padding:10px 0;border-bottom:1px solid #f0f0f0;overflow:hidden}
.news-box .thumb{float:left;width:100px;height:64px;margin-right:12px;overflow:hidden}
.news-box .num{float:left;width:28px;font-size:20px;font-weight:800;color:#e8342e}
.news-box .cate{display:block;font-size:12px;color:#999}.share-layer{margin-top:20px}
.share-layer button{padding:6px 12px;border:1px solid #ddd;background:#fff;margin-right:4px}
.footer{background:#f6f6f6;border-top:1px solid #ddd;padding:30px 0 50px;font-size:12px;
color:#888}.footer .f-menu a{margin-right:14px;color:#444;font-weight:700}
.footer address{font-style:normal;margin-top:12px;line-height:1.9}
@media (max-width:1200px){.wrap{width:100%;padding:0 16px}.content,.aside{float:none;width:auto}}
"""

GTAG = """
window.dataLayer = window.dataLayer || [];
function gtag(){dataLayer.push(arguments);}
gtag('js', new Date());
gtag('config', 'G-NB2024MAY', {'content_group': 'article', 'send_page_view': true});
(function(w,d,s,l,i){w[l]=w[l]||[];w[l].push({'gtm.start':new Date().getTime(),event:'gtm.js'});
var f=d.getElementsByTagName(s)[0],j=d.createElement(s),dl=l!='dataLayer'?'&l='+l:'';
j.async=true;j.src='https://www.googletagmanager.com/gtm.js?id='+i+dl;
f.parentNode.insertBefore(j,f);})(window,document,'script','dataLayer','GTM-NBELL01');
"""

ADS = """
window.googletag = window.googletag || {cmd: []};
googletag.cmd.push(function() {
  googletag.defineSlot('/21700000/newsbell/article_top', [[970, 90], [728, 90]],
    'div-gpt-ad-top').addService(googletag.pubads());
  googletag.defineSlot('/21700000/newsbell/article_inread', [[640, 360], [300, 250]],
    'div-gpt-ad-inread').addService(googletag.pubads());
  googletag.defineSlot('/21700000/newsbell/article_right1', [300, 600],
    'div-gpt-ad-right1').addService(googletag.pubads());
  googletag.defineSlot('/21700000/newsbell/article_right2', [300, 250],
    'div-gpt-ad-right2').addService(googletag.pubads());
  googletag.defineSlot('/21700000/newsbell/article_bottom', [[640, 200], [300, 250]],
    'div-gpt-ad-bottom').addService(googletag.pubads());
  googletag.pubads().enableSingleRequest();
  googletag.pubads().collapseEmptyDivs();
  googletag.pubads().setTargeting('section', 'cartech');
  googletag.enableServices();
});
"""

FOOTER_SCRIPTS = """
<script src="{base}/static/js/jquery-3.7.1.min.js"></script>
<script src="{base}/static/js/newsbell.common.js?v=20240521"></script>
<script src="{base}/static/js/newsbell.article.js?v=20240521"></script>
<script>
  (function(){
    var fontSize = parseInt(localStorage.getItem('nb_font') || '18', 10);
    document.querySelectorAll('.article-body').forEach(function(el){
      el.style.fontSize = fontSize + 'px';
    });
    document.querySelectorAll('[data-share]').forEach(function(btn){
      btn.addEventListener('click', function(){
        NB.share(btn.getAttribute('data-share'), location.href, document.title);
      });
    });
    NB.comment.init({max: 300, target: '#comment'});
    NB.ranking.lazyLoad('.news-box img');
  })();
</script>
<noscript><img height="1" width="1" style="display:none"
  src="{base}/static/pixel.gif?ev=PageView&amp;noscript=1" alt=""></noscript>
""".replace("{base}", BASE)
